"""Score a folder of liveness bursts and write the APCER/BPCER report (ISO/IEC 30107-3 terms).

    python -m recognition.ml.tools.liveness_report var/liveness-bursts \\
        --yunet-model YUNET.onnx --out var/liveness-report.json [--write-thresholds]

A burst is a folder of frames (*.jpg/*.png, in name order). With a burst.json beside them (as
`python -m recognition.ml.tools.liveness_bursts` writes) its label, attack kind, split and
prompt are read from it; for other material pass --label genuine|attack (and --challenge) and
every folder holding images counts as one burst.

Terms: APCER, the share of attack presentations of one kind (PAI species) wrongly accepted as
live; BPCER, the share of bona fide (genuine) presentations wrongly rejected. APCER is given per
species, and the overall figure is the worst species (ISO/IEC 30107-3). A burst in which too few
frames show a face gets no decision (a non-response, "too_few_frames"): it is counted apart and
left out of both rates. Each cue is also reported alone: APCER/BPCER if that cue were the only
one, at its own threshold, over the bursts where the policy uses it.

--wild DIR measures the single-frame cues (moire, glare, edges) on ordinary photos of real
people (e.g. celeba-dev/train): the share each threshold would flag there is a check, on
in-the-wild material, of the bona fide error that the plain-backdrop genuine bursts cannot show.

--write-thresholds fits every threshold on the bursts of split "tune" (the tuning half of the
people) and writes them to the artifact's metadata.json; the report then gives the figures on
split "test", people the thresholds never saw.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from recognition.ml.runtime.detection import YuNetDetector
from recognition.ml.runtime.liveness import (
    LIVENESS_ARTIFACT,
    LivenessChecker,
    LivenessThresholds,
    decide,
    margins,
)
from recognition.ml.tools.cli import IMAGE_SUFFIXES, CliError, run_cli
from recognition.ml.tools.liveness_thresholds import (
    NOT_COVERED,
    fit_thresholds,
    write_artifact,
)


def find_bursts(root: Path, label: str | None, challenge: str | None) -> list[dict]:
    bursts = []
    for directory in sorted(
        {p.parent for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES}
    ):
        frames = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        meta_path = directory / "burst.json"
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
        elif label:
            meta = {
                "label": label,
                "kind": f"{label}_other",
                "split": "test",
                "challenge": challenge,
            }
        else:
            raise CliError(f"{directory} has no burst.json; say what it holds with --label")
        meta.setdefault("id", str(directory.relative_to(root)))
        meta.setdefault("source", "other")
        meta["frame_paths"] = [str(p) for p in frames]
        bursts.append(meta)
    if not bursts:
        raise CliError(f"no bursts (folders of images) under {root}")
    return bursts


def measure_all(bursts: list[dict], detector, checker: LivenessChecker, cache: Path | None):
    """cues per burst id, from the cache where it has them."""
    known = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    for i, burst in enumerate(bursts):
        if burst["id"] in known:
            continue
        read = [cv2.imread(p, cv2.IMREAD_COLOR) for p in burst["frame_paths"]]
        faces = [(detector.detect(f) or [None])[0] if f is not None else None for f in read]
        frames = [f if f is not None else np.zeros((8, 8, 3), np.uint8) for f in read]
        cues, used, timings = checker.measure(frames, faces)
        known[burst["id"]] = {"cues": cues, "used": used, "timings": timings}
        if (i + 1) % 100 == 0:
            print(f"measured {i + 1}/{len(bursts)} bursts", file=sys.stderr)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return known


def species(burst: dict) -> str:
    return f"{burst['kind']}/{burst['source']}"


def rate(failures: int, total: int) -> dict:
    return {"rate": failures / total if total else None, "errors": failures, "count": total}


def evaluate(policy: str, limits: LivenessThresholds, bursts: list[dict], measured: dict) -> dict:
    """Combined decision and each cue alone, for one policy, on the given bursts."""
    # cue -> group -> [errors, count]
    rows: defaultdict[str, defaultdict[str, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    no_face: defaultdict[str, int] = defaultdict(int)
    codes: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for burst in bursts:
        if policy == "challenge" and burst["label"] == "genuine" and not burst.get("challenge"):
            continue  # only bursts of people answering a prompt are bona fide under challenge
        entry = measured[burst["id"]]
        challenge = burst.get("challenge") or "left"  # attack material without a prompt: "left"
        genuine = burst["label"] == "genuine"
        group = "bona fide" if genuine else species(burst)
        verdict = decide(limits, entry["cues"], entry["used"], challenge, {})
        codes[group][verdict.code or "live"] += 1
        if entry["used"] < limits.min_frames:
            # No decision was made on this burst (the detector did not find the face often
            # enough): a non-response, counted apart and left out of APCER and BPCER.
            no_face[group] += 1
            continue
        per_cue = margins(limits, entry["cues"], challenge)
        for cue, margin_value in [("combined", 1.0 if verdict.live else 0.0), *per_cue.items()]:
            accepted = margin_value >= 1.0
            rows[cue][group][0] += int(accepted != genuine)
            rows[cue][group][1] += 1
    return summarise(rows, no_face, codes)


def summarise(rows, no_face, codes) -> dict:
    out = {}
    for cue, groups in rows.items():
        attacks = {g: rate(*v) for g, v in sorted(groups.items()) if g != "bona fide"}
        worst = max((a["rate"] for a in attacks.values() if a["count"]), default=None)
        out[cue] = {
            "BPCER": rate(*groups.get("bona fide", [0, 0])),
            "APCER_max": worst,
            "APCER": attacks,
        }
    out["too_few_frames"] = dict(no_face)
    out["codes"] = {g: dict(c) for g, c in codes.items()}
    return out


def wild_values(directory: Path, detector, count: int) -> dict[str, list[float]]:
    """Single-frame cues (moire, glare, edges) on up to `count` in-the-wild photos."""
    from recognition.ml.runtime.liveness import texture_cues
    from recognition.ml.runtime.liveness_geometry import to_grey
    from recognition.ml.tools.cli import images_in

    values = defaultdict(list)
    for path in images_in(directory)[:count]:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        faces = detector.detect(frame) if frame is not None else []
        if frame is None or not faces:
            continue
        for cue, value in texture_cues([(frame, faces[0])], [to_grey(frame)]).items():
            values[cue].append(value)
    return dict(values)


def wild_flags(directory: Path, values: dict, limits: dict) -> dict:
    """Share of in-the-wild photos each single-frame cue would flag, per policy."""
    out = {"photos": len(values["moire"]), "folder": str(directory)}
    for policy, limit in limits.items():
        out[policy] = {
            cue: float(np.mean(np.array(values[cue]) > getattr(limit, f"max_{cue}")))
            for cue in ("moire", "glare", "edges")
        }
    return out


def timing_summary(measured: dict) -> dict:
    totals = defaultdict(list)
    for entry in measured.values():
        for key, value in entry["timings"].items():
            totals[key].append(value)
    return {
        key: {"p50_ms": float(np.median(v)), "p95_ms": float(np.percentile(v, 95))}
        for key, v in totals.items()
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bursts", help="folder of bursts (searched recursively)")
    parser.add_argument("--yunet-model", required=True)
    parser.add_argument("--predictor", default=None, help="dlib 68-point .dat (default: shipped)")
    parser.add_argument("--artifact", default=str(LIVENESS_ARTIFACT))
    parser.add_argument("--out", required=True, help="report JSON")
    parser.add_argument("--cache", default=None, help="JSON of measured cues, reused if present")
    parser.add_argument("--label", choices=("genuine", "attack"), default=None)
    parser.add_argument("--challenge", choices=("left", "right"), default=None)
    parser.add_argument("--write-thresholds", action="store_true")
    parser.add_argument("--wild", default=None, help="folder of in-the-wild photos (see above)")
    parser.add_argument("--wild-count", type=int, default=1000)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.predictor is None:
        from recognition.ml.dlib.models import dlib_model_path

        args.predictor = dlib_model_path("shape_predictor_68_face_landmarks")
    root = Path(args.bursts)
    if not root.is_dir():
        raise CliError(f"no such folder: {root}")
    bursts = find_bursts(root, args.label, args.challenge)
    checker = LivenessChecker(LivenessThresholds(), args.predictor)
    detector = YuNetDetector(args.yunet_model)
    measured = measure_all(bursts, detector, checker, Path(args.cache) if args.cache else None)
    artifact = Path(args.artifact)
    wild = wild_values(Path(args.wild), detector, args.wild_count) if args.wild else None
    if args.write_thresholds:
        tune = [b for b in bursts if b.get("split") == "tune"]
        if not tune:
            raise CliError("--write-thresholds needs bursts of split 'tune'")
        fitted = fit_thresholds(tune, measured, wild)
    policies: dict[str, dict] = {}
    report: dict = {"bursts": str(root), "policies": policies, "not_covered": NOT_COVERED}
    for policy in ("passive", "challenge"):
        if args.write_thresholds:
            limits = fitted[policy]
        else:
            limits = LivenessThresholds.from_artifact(artifact, policy)
        for split in sorted({b.get("split", "test") for b in bursts}):
            chosen = [b for b in bursts if b.get("split", "test") == split]
            entry = policies.setdefault(policy, {"thresholds": asdict(limits)})
            entry[split] = evaluate(policy, limits, chosen, measured)
    report["latency"] = timing_summary(measured)
    if wild:
        by_policy = {
            policy: LivenessThresholds(**body["thresholds"]) for policy, body in policies.items()
        }
        report["wild"] = wild_flags(Path(args.wild), wild, by_policy)
    if args.write_thresholds:
        write_artifact(artifact, fitted, report)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print_summary(report)


def print_summary(report: dict) -> None:
    for policy, body in report["policies"].items():
        print(f"{policy} thresholds: {body['thresholds']}")
        for split, result in body.items():
            if split == "thresholds":
                continue
            print(f"{policy} / {split}:")
            for cue, figures in result.items():
                if cue not in ("too_few_frames", "codes"):
                    print("  " + cue_line(cue, figures))
            print(f"  no decision (too few frames with a face): {result['too_few_frames']}")
    if "wild" in report:
        print(f"in-the-wild single photos flagged: {report['wild']}")
    print(f"latency ms: {report['latency'].get('total')}")


def percent(figures: dict) -> str:
    if not figures["count"]:
        return "n/a"
    return f"{100 * figures['rate']:.1f}% ({figures['errors']}/{figures['count']})"


def cue_line(cue: str, figures: dict) -> str:
    species = ", ".join(
        f"{name} {percent(v)}" for name, v in figures["APCER"].items() if v["count"]
    )
    return f"{cue:10s} BPCER {percent(figures['BPCER'])}; APCER {species}"


if __name__ == "__main__":
    run_cli(main)
