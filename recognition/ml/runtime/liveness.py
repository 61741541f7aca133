"""Presentation-attack detection at the gate from a short burst of frames.

    checker = LivenessChecker(LivenessThresholds.from_artifact(LIVENESS_ARTIFACT, "challenge"),
                              dlib_model_path("shape_predictor_68_face_landmarks"))
    result = checker.assess(frames_bgr, faces, challenge="left")

Policies (per event): "off" (no check), "passive" (no prompt: screen texture, glare, card edges,
and a face that turned without parallax) and "challenge" (a random prompt, "left" or "right";
the burst must show a real head turning that way). Directions are the subject's own: "left" means
the person turns their head to their own left. Frames must be as the camera delivers them,
unmirrored (a mirrored selfie preview on the page is fine; the frames sent must not be flipped):
in a mirrored frame a left turn reads as a right one and the challenge fails.

Thresholds are data: recognition/artifacts/liveness/metadata.json, written by
`python -m recognition.ml.tools.liveness_report --write-thresholds` from the tuning half of the
generated bursts (see that module for the figures and what they do not cover).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from recognition.ml.runtime import liveness_texture as texture
from recognition.ml.runtime.detection import DetectedFace
from recognition.ml.runtime.liveness_geometry import (
    DenseAligner,
    LandmarkPredictor68,
    burst_geometry,
    to_grey,
)

POLICIES = ("off", "passive", "challenge")
CHALLENGES = {"left": 1.0, "right": -1.0}  # sign of the nose's move along the eye line
LIVENESS_ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "liveness"
TEXTURE_FRAMES = 2  # texture cues are read on the first and the last frame

MESSAGES = {
    None: "Live person.",
    "too_few_frames": "We could not see your face in enough frames. Look at the camera and try "
    "again.",
    "challenge_not_met": "Please turn your head as the screen asks, then try again.",
    "not_live": "This looks like a photo or a screen, not a person. Staff will check your ticket.",
}


@dataclass(frozen=True)
class LivenessThresholds:
    """A cue fails past its limit. Distances are in inter-eye distances of the first frame."""

    policy: str = "challenge"
    min_frames: int = 4  # frames with a face
    min_parallax: float = 0.03  # dense nose residual, the largest over the burst
    min_turn: float = 0.03  # challenge: dense nose residual towards the prompted side
    max_moire: float = 2.2  # spectral peak height (log units), median of the texture frames
    max_glare: float = 0.02  # share of the face blown out to white, largest frame
    max_edges: float = 1.0  # long straight edges around the face, in face widths, median
    # Foreshortening of the face plane (about 1 - cos of the turn) from which a real head would
    # show parallax: 0.035 is about 15 degrees.
    turned_without_parallax: float = 0.035

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"liveness policy must be one of {POLICIES}, not {self.policy!r}")
        if self.min_frames < 2:
            raise ValueError("liveness needs at least 2 frames")

    @classmethod
    def from_artifact(cls, artifact_dir: str | Path, policy: str) -> LivenessThresholds:
        """The thresholds measured for a policy in <artifact_dir>/metadata.json."""
        metadata = json.loads((Path(artifact_dir) / "metadata.json").read_text())
        try:
            values = metadata["thresholds"][policy]
        except KeyError:
            known = ", ".join(sorted(metadata.get("thresholds", {})))
            message = f"no liveness thresholds for policy {policy!r} (known: {known})"
            raise ValueError(message) from None
        names = {f.name for f in fields(cls)}
        return cls(policy=policy, **{k: v for k, v in values.items() if k in names})


@dataclass
class LivenessResult:
    live: bool
    code: str | None  # None when live; "not_live", "too_few_frames", "challenge_not_met"
    message: str
    score: float  # >= 1 when every cue the policy uses passed; the weakest cue's margin
    cues: dict[str, float] = field(default_factory=dict)  # every measured figure
    failed: list[str] = field(default_factory=list)  # the cues past their limits
    frames_used: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class LivenessChecker:
    """One per worker process (loads dlib's 68-point predictor, ~100 MB). Not thread-safe."""

    def __init__(self, thresholds: LivenessThresholds, predictor_path: str):
        self.thresholds = thresholds
        self._landmarks = LandmarkPredictor68(predictor_path)
        self._dense = DenseAligner()

    def measure(
        self, frames_bgr: list[np.ndarray], faces: list[DetectedFace | None]
    ) -> tuple[dict[str, float], int, dict[str, float]]:
        """Every cue of a burst, whatever the policy: (cues, frames with a face, timings)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        cpu_started = time.process_time()
        kept = [(f, face) for f, face in zip(frames_bgr, faces, strict=True) if face is not None]
        if len(kept) < 2:
            return {}, len(kept), timings
        greys = [to_grey(frame) for frame, _ in kept]
        points = [
            self._landmarks.predict(grey, face) for grey, (_, face) in zip(greys, kept, strict=True)
        ]
        timings["landmarks"] = lap(started)
        geometry = burst_geometry(points)
        cues = landmark_cues(geometry)
        timings["geometry"] = lap(started) - timings["landmarks"]
        dense = self._dense.parallax(greys, points, kept[0][1].box[2], geometry.nose_shift)
        cues["parallax"] = float(np.max(np.hypot(*dense.nose.T)))
        cues["dense_rms"] = float(np.max(dense.rms))
        cues["turn_left"] = float(max(np.max(dense.nose[:, 0]), 0.0))
        cues["turn_right"] = float(max(np.max(-dense.nose[:, 0]), 0.0))
        cues["plane_turn"] = float(np.max(dense.plane_turn))
        timings["dense"] = lap(started) - timings["landmarks"] - timings["geometry"]
        cues.update(texture_cues(kept, greys))
        timings["texture"] = lap(started) - sum(timings.values())
        timings["total"] = lap(started)
        # CPU time of this process: the cost on idle cores, whatever else the machine runs.
        timings["cpu_total"] = (time.process_time() - cpu_started) * 1000
        return cues, len(kept), timings

    def assess(
        self,
        frames_bgr: list[np.ndarray],
        faces: list[DetectedFace | None],
        challenge: str | None = None,
        thresholds: LivenessThresholds | None = None,
    ) -> LivenessResult:
        """Judge a burst. `faces[i]` is the largest face YuNet found in `frames_bgr[i]`, or None.
        `challenge` is the direction the person was asked to turn ("left"/"right", their own),
        required under the challenge policy and ignored under passive. `thresholds` overrides
        the checker's own (one checker, hence one 68-point model in memory, serves events of
        every policy)."""
        limits = thresholds or self.thresholds
        if limits.policy == "off":
            raise ValueError("liveness policy 'off': do not call the checker")
        if limits.policy == "challenge" and challenge not in CHALLENGES:
            raise ValueError(
                f"challenge policy needs challenge 'left' or 'right', not {challenge!r}"
            )
        cues, used, timings = self.measure(frames_bgr, faces)
        return decide(limits, cues, used, challenge, timings)


def random_challenge() -> str:
    """A prompt direction drawn at random, server side, per attempt: never let the client pick."""
    return ("left", "right")[secrets.randbelow(2)]


def lap(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def landmark_cues(geometry) -> dict[str, float]:
    """The landmark-only figures, reported beside the dense ones (see liveness_geometry for why
    they do not decide)."""
    shift = geometry.nose_shift
    return {
        "landmark_parallax": float(np.ptp(shift[:, 0])),
        "turned": float(np.max(np.abs(shift[:, 0]))),
        "blink": float(np.ptp(geometry.eye_opening)),
        "mouth": float(np.ptp(geometry.mouth_opening)),
    }


def texture_cues(kept: list, greys: list[np.ndarray]) -> dict[str, float]:
    """Moire, glare and black level on the first and last frame; colour and edges (measured and
    reported, too weak to decide; see the artifact's metadata) on the last one."""
    picks = sorted({0, len(kept) - 1})[:TEXTURE_FRAMES]
    moire, glare, black = [], [], []
    for i in picks:
        patch = texture.face_patch(greys[i], kept[i][1])
        if patch is not None:
            moire.append(texture.moire_score(patch))
            glare.append(texture.glare_score(patch))
            black.append(texture.black_level(patch))
    frame, face = kept[picks[-1]]
    return {
        "moire": float(np.median(moire)) if moire else 0.0,
        "glare": float(np.max(glare)) if glare else 0.0,
        "black_level": float(np.median(black)) if black else 0.0,
        "colour": texture.colour_score(frame, face),
        "edges": texture.edge_score(greys[picks[-1]], face),
    }


def margins(limits: LivenessThresholds, cues: dict[str, float], challenge: str | None):
    """Each cue the policy uses as value/limit, oriented so that >= 1 passes."""
    tiny = 1e-9
    out = {
        "moire": limits.max_moire / max(cues["moire"], tiny),
        "glare": limits.max_glare / max(cues["glare"], tiny),
        "edges": limits.max_edges / max(cues["edges"], tiny),
    }
    if limits.policy == "challenge":
        out["parallax"] = cues["parallax"] / limits.min_parallax
        out["turn"] = cues[f"turn_{challenge}"] / limits.min_turn
    elif cues["plane_turn"] >= limits.turned_without_parallax:
        out["parallax"] = cues["parallax"] / limits.min_parallax
    return out


def decide(
    limits: LivenessThresholds,
    cues: dict[str, float],
    used: int,
    challenge: str | None,
    timings: dict[str, float],
) -> LivenessResult:
    if used < limits.min_frames:
        return LivenessResult(
            False, "too_few_frames", MESSAGES["too_few_frames"], 0.0, cues, [], used, timings
        )
    margin = margins(limits, cues, challenge)
    failed = sorted(name for name, value in margin.items() if value < 1.0)
    score = float(min(margin.values()))
    code = None
    if failed:
        # Only a turn that did not happen (or went the other way) asks the person to try again;
        # anything flat, shiny or framed is an attack.
        code = "challenge_not_met" if failed == ["turn"] else "not_live"
        if limits.policy == "challenge" and failed == ["parallax", "turn"]:
            # Nothing turned at all (a person who did not move, or a card held still): ask again.
            # A face plane that turned without parallax is a card.
            flat_turn = cues["plane_turn"] >= limits.turned_without_parallax
            code = "not_live" if flat_turn else "challenge_not_met"
    return LivenessResult(code is None, code, MESSAGES[code], score, cues, failed, used, timings)
