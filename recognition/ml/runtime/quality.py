"""Enrollment photo quality gates: one verdict with a stable code and the measured figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from recognition.ml.runtime.alignment import align_face
from recognition.ml.runtime.detection import DetectedFace

# Side of the aligned grey crop the image measures are taken on: a fixed size makes sharpness
# comparable between small and large faces.
MEASURE_SIZE = 112
# Grey level from which a pixel counts as blown out: its detail is gone, whatever the mean says.
CLIPPED_LEVEL = 250


@dataclass(frozen=True)
class QualityThresholds:
    """Defaults tuned on celeba-dev/val with `python -m recognition.ml.tools.quality_report` so that
    under 3% of those in-the-wild photos are refused, each for a visible fault (see that module).
    Enrollment photos from phones are far larger, so the size limit rarely bites there."""

    min_face_px: float = 22.0  # shorter side of the detected box, in image pixels
    min_sharpness: float = 20.0  # variance of the Laplacian on the 112 px aligned grey face
    min_brightness: float = 40.0  # mean grey level of the aligned face, 0-255
    max_brightness: float = 215.0
    max_clipped_fraction: float = 0.3  # share of face pixels blown out to near white
    max_yaw_ratio: float = 0.55  # sideways nose offset from the eye midpoint / eye distance
    secondary_face_ratio: float = 0.5  # a second face this large (area vs largest) is a problem

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class QualityVerdict:
    """`code` is stable (people read it through the product's reason vocabulary); `message` is
    an optional technical detail, e.g. an ImageDecodeError's."""

    accepted: bool
    code: str | None
    message: str = ""
    figures: dict[str, float] = field(default_factory=dict)
    face: DetectedFace | None = None


def measure_face(image_bgr: np.ndarray, face: DetectedFace) -> dict[str, float]:
    """Size, sharpness, brightness and yaw figures for one detected face."""
    crop = align_face(image_bgr, face.landmarks, MEASURE_SIZE, margin=0.0)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return {
        "face_px": float(min(face.box[2], face.box[3])),
        "sharpness": float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        "brightness": float(grey.mean()),
        "clipped_fraction": float(np.mean(grey >= CLIPPED_LEVEL)),
        "yaw_ratio": yaw_ratio(face.landmarks),
        "detector_score": float(face.score),
    }


def yaw_ratio(landmarks: np.ndarray) -> float:
    """How far the nose sits sideways from the eye midpoint, in inter-eye distances.

    About 0 for a frontal face, rising towards 0.5 and beyond as the head turns to profile.
    """
    right_eye, left_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    across = left_eye - right_eye
    length_sq = float(np.dot(across, across))
    if length_sq < 1e-6:
        return float("inf")
    return abs(float(np.dot(nose - (right_eye + left_eye) / 2, across)) / length_sq)


def several_faces(faces: list[DetectedFace], ratio: float) -> bool:
    return len(faces) > 1 and faces[1].area >= ratio * faces[0].area


def reject(code: str, figures: dict[str, float], face: DetectedFace | None) -> QualityVerdict:
    return QualityVerdict(False, code, "", figures, face)


def first_failure(figures: dict[str, float], limits: QualityThresholds) -> str | None:
    # Ordered so the attendee hears about the thing to fix first: framing, then light, then focus
    # (a dark photo also looks blurred).
    checks = (
        ("face_too_small", figures["face_px"] < limits.min_face_px),
        ("pose_not_frontal", figures["yaw_ratio"] > limits.max_yaw_ratio),
        ("too_dark", figures["brightness"] < limits.min_brightness),
        (
            "overexposed",
            figures["brightness"] > limits.max_brightness
            or figures["clipped_fraction"] > limits.max_clipped_fraction,
        ),
        ("too_blurred", figures["sharpness"] < limits.min_sharpness),
    )
    return next((code for code, failed in checks if failed), None)


def assess_quality(
    image_bgr: np.ndarray,
    faces: list[DetectedFace],
    thresholds: QualityThresholds | None = None,
) -> QualityVerdict:
    """Judge an enrollment photo from its detections (largest first, as detectors return them)."""
    limits = thresholds or QualityThresholds()
    if not faces:
        return reject("no_face", {"faces": 0.0}, None)
    face = faces[0]
    figures = {"faces": float(len(faces))}
    if several_faces(faces, limits.secondary_face_ratio):
        figures["secondary_area_ratio"] = faces[1].area / max(face.area, 1e-6)
        return reject("multiple_faces", figures, face)
    figures.update(measure_face(image_bgr, face))
    code = first_failure(figures, limits)
    if code:
        return reject(code, figures, face)
    return QualityVerdict(True, None, "The photo is good.", figures, face)


def assess_presence(
    faces: list[DetectedFace], thresholds: QualityThresholds | None = None
) -> QualityVerdict:
    """The gate's lighter check: exactly one prominent face, no enrollment photo standards."""
    limits = thresholds or QualityThresholds()
    if not faces:
        return reject("no_face", {"faces": 0.0}, None)
    figures = {"faces": float(len(faces))}
    if several_faces(faces, limits.secondary_face_ratio):
        return reject("multiple_faces", figures, faces[0])
    return QualityVerdict(True, None, "Face found.", figures, faces[0])
