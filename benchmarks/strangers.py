"""Strangers at face-only gates: FPIR, TPIR, review share and wrong-holder admits by gallery size
and security level, measured on real stranger photos, beside the calibration's prediction.

Galleries (one event each, in the benchmark database):
- 50 real holders: the 50 celeba-dev/val people, two enrollment photos each (the embedding of
  their first two photos with a face); their other photos are the genuine probes.
- Larger galleries add synthetic holders (benchmarks/gallery.py FaceSpace, 1-3 photos each)
  grown from one half of the celeba-dev/train people; the stranger probes are then the photos
  of the other half (people in no gallery and behind no synthetic holder). The 50-holder
  gallery is probed by every train photo.
- train person 7393 is val person 7392 under another label (same woman, checked by eye;
  docs/openset-calibration.md): never a stranger.

Every probe goes through the product's own code on the event in PostgreSQL: the search and the
template scores (checkins.gate.scored_candidates: pgvector, exact or the event's HNSW index),
then the rules at each level (checkins.gate.one_to_many_verdict). The prediction is
recognition.ml.runtime.openset.capacity for the same size, level and photo count.
1:1 gates are measured on the 50-holder gallery: each genuine probe against its own holder,
each stranger against a holder drawn at random.

    DEBUG=1 .venv/bin/python benchmarks/strangers.py --sizes 50,1000 --out results.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import gallery, stack  # noqa: E402

LEVELS = ("relaxed", "standard", "high")
DUPLICATE_OF_A_VAL_PERSON = "7393"
ENROLLED_PHOTOS = 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=lambda t: [int(v) for v in t.split(",")], default=[50, 1000]
    )
    parser.add_argument("--max-strangers", type=int, default=0, help="0: every stranger photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    return parser.parse_args(argv)


def labelled(model, split: str):
    """Real embeddings (gate path) of one split: vectors, identity labels, paths; faces only."""
    folder = gallery.DEV / split
    paths = [p for images in gallery.identity_images(folder).values() for p in images]
    vectors = gallery.real_embeddings(model, paths)
    keep = ~np.isnan(vectors).any(axis=1)
    labels = np.array([p.parent.name for p in paths])
    return vectors[keep], labels[keep], [p for p, k in zip(paths, keep, strict=True) if k]


def real_holders(val_vectors, val_labels):
    """Enrollment vectors (two per person) and genuine probes (the rest) of the val people."""
    enrolled, owners, probes, truth = [], [], [], []
    for index, person in enumerate(sorted(set(val_labels))):
        rows = np.flatnonzero(val_labels == person)
        enrolled.append(val_vectors[rows[:ENROLLED_PHOTOS]])
        owners += [index] * len(rows[:ENROLLED_PHOTOS])
        probes.append(val_vectors[rows[ENROLLED_PHOTOS:]])
        truth += [index] * len(rows[ENROLLED_PHOTOS:])
    return np.concatenate(enrolled), np.array(owners), np.concatenate(probes), np.array(truth)


def insert(event, model, vectors, owners, prefix):
    from django.db import connection, transaction

    holders = int(owners.max()) + 1
    with transaction.atomic(), connection.cursor() as cursor:
        return gallery.insert_gallery(
            cursor,
            event_ids=[event.pk] * holders,
            model_id=model.pk,
            vectors=vectors,
            owners=owners,
            prefix=prefix,
        )


def build_event(org, model, size, real, space, rng):
    from datetime import timedelta

    from django.utils import timezone

    from events.models import Event
    from events.services import event_create

    now = timezone.now()
    event = event_create(
        organization=org,
        name=f"Strangers {size}",
        slug=f"strangers-{size}",
        starts_at=now,
        ends_at=now + timedelta(days=1),
        status=Event.Status.GATES_OPEN,
    )
    holder_ids = insert(event, model, real[0], real[1], "V")
    started = time.perf_counter()
    if size > len(holder_ids):
        gallery.load_galleries(
            event_ids=[event.pk], holders=[size - len(holder_ids)], model_id=model.pk,
            space=space, rng=rng,
        )  # fmt: skip
    index = stack.event_search_index(event, model)
    return event, holder_ids, {"load_s": round(time.perf_counter() - started, 1), **index}


def measure(event, model, holders, scored, truth, holder_ids) -> dict:
    """Counts per level from the scored candidates of each probe (truth -1: a stranger)."""
    from checkins.gate import one_to_many_verdict

    out = {}
    for level in LEVELS:
        event.security_level = level
        counts = dict.fromkeys(
            ("stranger_admit", "stranger_review", "admit", "wrong_admit", "review", "deny"), 0
        )
        for candidates, expected in zip(scored, truth, strict=True):
            verdict = one_to_many_verdict(event, model, candidates, frames=1, holders=holders)
            own = expected >= 0 and verdict.holder_id == holder_ids[expected]
            if expected < 0:
                counts["stranger_" + verdict.decision] = (
                    counts.get("stranger_" + verdict.decision, 0) + 1
                )
            elif verdict.decision == "admit":
                counts["admit" if own else "wrong_admit"] += 1
            else:
                counts[verdict.decision] += 1
        out[level] = counts
    return out


def rates(counts, strangers, genuine, predicted) -> dict:
    return {
        "fpir": counts["stranger_admit"] / strangers,
        "stranger_admits": counts["stranger_admit"],
        "stranger_review": counts["stranger_review"] / strangers,
        "tpir": counts["admit"] / genuine,
        "review": counts["review"] / genuine,
        "admitted_or_review": (counts["admit"] + counts["review"]) / genuine,
        "wrong_holder_admits": counts["wrong_admit"],
        "predicted": predicted,
    }


def predicted(calibration, holders, level, photos, margin) -> dict:
    from recognition.ml.runtime import openset

    figures = openset.capacity(calibration, holders, level, photos, margin)
    return {
        "fpir": 0.0 if figures.beyond_calibration else figures.expected_fpir,
        "tpir": 0.0 if figures.beyond_calibration else figures.expected_tpir,
        "review": figures.expected_review,
        "beyond_calibration": figures.beyond_calibration,
    }


def one_to_one(event, model, holder_ids, genuine, truth, strangers, rng) -> dict:
    """1:1 gates: each genuine probe against its holder, each stranger against a random holder."""
    from checkins import decision
    from checkins.gate import thresholds_for
    from recognition.selectors import holder_templates

    templates = holder_templates(holder_ids=holder_ids.tolist(), model=model)
    ordered = [templates[int(h)] for h in holder_ids]
    targets = rng.integers(0, len(ordered), len(strangers))
    out = {}
    for level in LEVELS:
        event.security_level = level

        def admitted(vector, holder) -> bool:
            limits = thresholds_for(model, event, photos=holder.photos, holders=1, frames=1)
            score = float(vector @ holder.vector)
            verdict = decision.one_to_one(
                holder_id=holder.holder_id, revoked=False, score=score, thresholds=limits,
                frames=1,
            )  # fmt: skip
            return verdict.decision == "admit"

        genuine_admits = sum(admitted(v, ordered[t]) for v, t in zip(genuine, truth, strict=True))
        impostor_admits = sum(
            admitted(v, ordered[t]) for v, t in zip(strangers, targets, strict=True)
        )
        out[level] = {
            "genuine_admit_rate": genuine_admits / len(genuine),
            "genuine_probes": len(genuine),
            "impostor_admits": int(impostor_admits),
            "impostor_attempts": len(strangers),
        }
    return out


def run(args) -> dict:
    from django.conf import settings

    from checkins.gate import scored_candidates
    from recognition.selectors import enrolled_holder_count, model_calibration

    rng = np.random.default_rng(args.seed)
    model, _ = stack.activate("default")
    calibration = model_calibration(model)
    val_vectors, val_labels, _ = labelled(model, "val")
    train_vectors, train_labels, _ = labelled(model, "train")
    keep = train_labels != DUPLICATE_OF_A_VAL_PERSON
    train_vectors, train_labels = train_vectors[keep], train_labels[keep]
    enrolled, owners, genuine, truth = real_holders(val_vectors, val_labels)
    people = np.array(sorted(set(train_labels)))
    fill_people = set(rng.permutation(people)[: len(people) // 2])
    in_fill = np.array([label in fill_people for label in train_labels])
    space = gallery.calibrate(
        train_vectors[in_fill], train_labels[in_fill], val_vectors, val_labels, seed=args.seed
    )
    margin = settings.FACEPASS_GATE_1N_MARGIN
    org = stack.organization("strangers")
    report = {"model": model.label, "margin": margin, "sizes": {}}
    try:
        for size in args.sizes:
            strangers = train_vectors if size <= len(enrolled) else train_vectors[~in_fill]
            if args.max_strangers:
                strangers = strangers[: args.max_strangers]
            event, holder_ids, build = build_event(org, model, size, (enrolled, owners), space, rng)
            holders = enrolled_holder_count(event_id=event.pk, model=model)
            started = time.perf_counter()
            probes = np.concatenate([genuine, strangers])
            expected = np.concatenate([truth, np.full(len(strangers), -1)])
            scored = [scored_candidates(event, v[None], model) for v in probes]
            search_s = time.perf_counter() - started
            counts = measure(event, model, holders, scored, expected, holder_ids)
            photos = ENROLLED_PHOTOS  # the genuine probes' holders: TPIR is theirs
            report["sizes"][str(size)] = {
                "holders": holders,
                "strangers": len(strangers),
                "genuine_probes": len(genuine),
                "build": build,
                "search_ms_per_probe": round(1000 * search_s / len(probes), 2),
                "levels": {
                    level: rates(
                        counts[level],
                        len(strangers),
                        len(genuine),
                        predicted(
                            calibration, holders, float(event.TARGET_FAR[level]), photos, margin
                        ),
                    )  # fmt: skip
                    for level in LEVELS
                },
            }
            if size <= len(enrolled):
                report["one_to_one"] = one_to_one(
                    event, model, holder_ids, genuine, truth, strangers, rng
                )
            print(json.dumps({size: report["sizes"][str(size)]["levels"]}), file=sys.stderr)
    finally:
        stack.org_delete(org)
    return report


def table(report: dict) -> str:
    """Markdown: one row per size and level, measured beside predicted."""
    lines = [
        "| holders | level | strangers | FPIR measured (admits) | FPIR predicted | TPIR measured "
        "| TPIR predicted | review (holders) | admitted + review | wrong-holder admits |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, entry in report["sizes"].items():
        for level, r in entry["levels"].items():
            p = r["predicted"]
            beyond = " (beyond calibration: no admit)" if p["beyond_calibration"] else ""
            lines.append(
                f"| {int(size):,} | {level} | {entry['strangers']:,} | {r['fpir']:.2e} "
                f"({r['stranger_admits']}) | {p['fpir']:.1e}{beyond} | {r['tpir']:.3f} | "
                f"{p['tpir']:.3f} | {r['review']:.3f} | {r['admitted_or_review']:.3f} | "
                f"{r['wrong_holder_admits']} |"
            )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    stack.setup()
    report = {**run(args), "machine": stack.machine(), "date": time.strftime("%Y-%m-%d")}
    print(table(report))
    if args.out:
        stack.write_result("strangers", report, args.out)


if __name__ == "__main__":
    main()
