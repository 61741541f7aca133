"""Fitting the liveness thresholds on the tuning half, and the artifact they are written to.

Rule per cue, on the genuine bursts of the tuning half (the policy's genuine set):
- a cue where live is high (parallax, turn): the BUDGET-quantile of the genuine values, less
  SLACK, so about BUDGET of the tuning people's bursts fail it (passive: of the bursts whose face
  plane turned by turned_without_parallax, the only ones where passive asks for parallax);
- a cue where attacks are high (moire, glare, edges): the (1 - BUDGET)-quantile plus SLACK, but
  never below its floor: the (1 - WILD_BUDGET)-quantile of the same cue on in-the-wild photos of
  real people (--wild, e.g. celeba-dev/train), or FLOOR without them. The floor exists because
  the genuine bursts here are 20 people against plain dark backdrops in soft light: no blown-out
  skin and no straight lines behind anyone, so a threshold fitted to them alone would sit at zero
  and reject real people in front of a door frame or under a spotlight.
Attacks play no part in choosing a threshold: they are only counted on the test half.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from recognition.ml.runtime.liveness import LivenessThresholds

BUDGET = {"parallax": 0.025, "turn": 0.025, "moire": 0.01, "glare": 0.01, "edges": 0.01}
SLACK = 0.1  # a tenth of the value, away from the genuine side
FLOOR = {"moire": 0.0, "glare": 0.05, "edges": 1.5}
WILD_BUDGET = 0.01
DEFAULTS = LivenessThresholds()
FIELD = {
    "parallax": "min_parallax",
    "turn": "min_turn",
    "moire": "max_moire",
    "glare": "max_glare",
    "edges": "max_edges",
}
GENUINE_KINDS = {"challenge": ("genuine_turn",), "passive": ("genuine_turn", "genuine_free")}
NOT_COVERED = [
    "Real presentation attack instruments: every attack here is a simulation (a still photo "
    "rendered on a flat or bent card before a pinhole camera, with simulated print tone, screen "
    "pixel grid, moire, glare, colour cast and JPEG). Real printers, paper, phone and tablet "
    "screens, lenses and sensors were not measured; the texture cues (moire, glare, edges) are "
    "only as good as those simulations.",
    "Masks (paper, silicone, latex), 3D-printed heads, make-up.",
    "Video replay of a recorded head turn is simulated only crudely (the 'replay' species, ORL "
    "photos in turn order on a screen); deepfake or real-time face-swap video, and injection of "
    "video into the browser (a virtual camera) are not covered: the check only sees pixels.",
    "Bona fide variety: 20 people (10 in each half) photographed in one sitting, greyscale, "
    "92x112 px upscaled 3x, plain dark background, soft light. No colour (the colour cue is "
    "measured but cannot be judged here and is not used), no glasses glare, no cluttered "
    "backgrounds, no children, no wheelchair users, no masks or headwear, no real gate cameras.",
    "Genuine turns come from ORL people who happened to turn in that sitting, not from people "
    "answering a prompt; person-directions with no turn of at least 0.08 eye distances were not "
    "generated (see the bursts' manifest.json).",
]


def genuine_values(tune: list[dict], measured: dict, kinds, cue: str, min_plane_turn=None):
    """The cue on the tuning half's genuine bursts of the given kinds; with `min_plane_turn`,
    only those whose face plane turned that much (where passive asks for parallax)."""
    values = []
    for burst in tune:
        if burst["label"] != "genuine" or burst["kind"] not in kinds:
            continue
        entry = measured[burst["id"]]
        if not entry["cues"]:
            continue
        if min_plane_turn is not None and entry["cues"]["plane_turn"] < min_plane_turn:
            continue
        if cue == "turn":
            values.append(entry["cues"][f"turn_{burst['challenge']}"])
        else:
            values.append(entry["cues"][cue])
    return np.array(values, dtype=np.float64)


def fit_thresholds(
    tune: list[dict], measured: dict, wild: dict[str, list[float]] | None = None
) -> dict[str, LivenessThresholds]:
    """Thresholds per policy; `wild` holds single-frame cue values on in-the-wild photos."""
    floors = dict(FLOOR)
    if wild:
        floors = {cue: float(np.quantile(wild[cue], 1 - WILD_BUDGET)) for cue in FLOOR}
    out = {}
    for policy, kinds in GENUINE_KINDS.items():
        values = {}
        for cue, name in FIELD.items():
            if cue == "turn" and policy != "challenge":
                continue
            # Passive asks for parallax only of faces that turned: fit it on those.
            turned = DEFAULTS.turned_without_parallax if policy == "passive" else None
            genuine = genuine_values(tune, measured, kinds, cue, turned)
            if cue in ("parallax", "turn"):
                values[name] = float(np.quantile(genuine, BUDGET[cue]) * (1 - SLACK))
            else:
                high = float(np.quantile(genuine, 1 - BUDGET[cue]) * (1 + SLACK))
                values[name] = max(high, floors[cue])
        out[policy] = LivenessThresholds(policy=policy, **values)  # type: ignore[arg-type]
    return out


def write_artifact(artifact_dir: Path, fitted: dict[str, LivenessThresholds], report: dict):
    """metadata.json: thresholds per policy, how they were fitted, and the test-half figures."""
    thresholds = {}
    for policy, limits in fitted.items():
        values = asdict(limits)
        values.pop("policy")
        thresholds[policy] = values
    metrics = {}
    for policy, body in report["policies"].items():
        test = body.get("test", {})
        metrics[policy] = {
            cue: {
                "BPCER": figures["BPCER"],
                "APCER_max": figures["APCER_max"],
                "APCER": {k: v["rate"] for k, v in figures["APCER"].items()},
            }
            for cue, figures in test.items()
            if cue not in ("too_few_frames", "codes")
        }
    manifest_path = Path(report["bursts"]) / "manifest.json"
    metadata = {
        "name": "liveness",
        "version": "1",
        "thresholds": thresholds,
        "fit": {
            "rule": __doc__.split("\n\n")[1],
            "budget": BUDGET,
            "slack": SLACK,
            "floor_without_wild_photos": FLOOR,
            "wild_budget": WILD_BUDGET,
            "wild": report.get("wild"),
            "bursts": json.loads(manifest_path.read_text()) if manifest_path.is_file() else None,
        },
        "metrics_test_half": metrics,
        "latency": report.get("latency"),
        "not_covered": NOT_COVERED,
    }
    artifact_dir.mkdir(parents=True, exist_ok=True)
    path = artifact_dir / "metadata.json"
    path.write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return path
