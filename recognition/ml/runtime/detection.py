"""Face detectors returning boxes plus five landmarks in YuNet's order.

Landmark order everywhere in this package (YuNet's): right eye, left eye, nose tip, right mouth
corner, left mouth corner, where "right" is the subject's right, i.e. the point with the smaller x
in an unmirrored photo.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import threading
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from recognition.ml.dlib.models import dlib_model_path
from recognition.ml.runtime.config import default_cache_dir
from recognition.ml.runtime.imageio import fit_longest_side

logger = logging.getLogger(__name__)

YUNET_URL = (
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
    "face_detection_yunet_2026may.onnx"
)
DOWNLOAD_TIMEOUT_S = 30
YUNET_SHA256 = "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"
YUNET_CACHE_NAME = "face_detection_yunet.onnx"
DETECTOR_NAMES = ("yunet", "dlib-hog")


@dataclass
class DetectedFace:
    box: tuple[float, float, float, float]  # x, y, w, h in image pixels
    landmarks: np.ndarray  # (5, 2) float32, YuNet order (see module docstring)
    score: float
    detector: str = "yunet"  # boxes differ between detectors; dlib's chip alignment cares

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])

    def scaled(self, factor: float) -> DetectedFace:
        x, y, w, h = self.box
        return DetectedFace(
            box=(x * factor, y * factor, w * factor, h * factor),
            landmarks=(self.landmarks * factor).astype(np.float32),
            score=self.score,
            detector=self.detector,
        )


def sort_by_area(faces: list[DetectedFace]) -> list[DetectedFace]:
    return sorted(faces, key=lambda face: face.area, reverse=True)


class FaceDetector(ABC):
    name: str = ""
    # Set when this detector stands in for the one that was asked for.
    fallback_reason: str | None = None

    @abstractmethod
    def detect(self, image_bgr: np.ndarray) -> list[DetectedFace]:
        """All faces in a BGR uint8 image, largest first."""


class YuNetDetector(FaceDetector):
    name = "yunet"

    def __init__(
        self,
        model_path: str | Path,
        score_threshold: float = 0.6,
        nms: float = 0.3,
        max_side: int = 640,
    ):
        self.model_path = Path(model_path)
        self.max_side = max_side
        self._net = cv2.FaceDetectorYN.create(
            str(self.model_path), "", (320, 320), score_threshold, nms, 5000
        )
        # setInputSize mutates the net, so one image at a time per detector.
        self._lock = threading.Lock()

    def detect(self, image_bgr: np.ndarray) -> list[DetectedFace]:
        # Phone photos are far larger than needed to find a face; detecting on a bounded copy keeps
        # latency flat, and the results are scaled back to the caller's pixels.
        small, scale = fit_longest_side(image_bgr, self.max_side)
        height, width = small.shape[:2]
        with self._lock:
            self._net.setInputSize((width, height))
            _, rows = self._net.detect(small)
        if rows is None:
            return []
        faces = [
            DetectedFace(
                box=(float(row[0]), float(row[1]), float(row[2]), float(row[3])),
                landmarks=np.asarray(row[4:14], np.float32).reshape(5, 2),
                score=float(row[14]),
            ).scaled(1.0 / scale)
            for row in np.asarray(rows, np.float32)
        ]
        return sort_by_area(faces)


class DlibHogDetector(FaceDetector):
    """dlib's HOG detector with its 5-point shape predictor, mapped to YuNet's landmark order.

    dlib's 5-point model gives the two corners of each eye and the base of the nose (subnasale), not
    mouth corners. Eye centres are the corner midpoints. The nose base sits lower than the nose
    tip YuNet reports, so its drop below the eye line is scaled by NOSE_TIP_FROM_BASE (its sideways
    offset, which shows yaw, is kept). Mouth corners are synthesised on the line perpendicular to
    the eyes through the eye midpoint. The proportions (in inter-eye distances) are medians of
    YuNet's landmarks on celeba-dev/val, so both detectors feed alignment alike. Synthesised mouth
    corners carry no information: pose checks see yaw only through the nose.
    """

    name = "dlib-hog"
    NOSE_TIP_FROM_BASE = 0.77
    MOUTH_DROP = 1.01
    MOUTH_HALF_WIDTH = 0.43

    def __init__(self, upsample_below: int = 640):
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(dlib_model_path("shape_predictor_5_face_landmarks"))
        # HOG misses faces under ~80 px, which are common in small photos: upsample those once.
        self.upsample_below = upsample_below
        self._dlib = dlib

    def detect(self, image_bgr: np.ndarray) -> list[DetectedFace]:
        rgb = cv2.cvtColor(np.ascontiguousarray(image_bgr), cv2.COLOR_BGR2RGB)
        upsample = 1 if max(rgb.shape[:2]) <= self.upsample_below else 0
        rects, scores, _ = self._detector.run(rgb, upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            shape = self._predictor(rgb, rect)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            box = (rect.left(), rect.top(), rect.width(), rect.height())
            faces.append(
                DetectedFace(
                    box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                    landmarks=self.five_points(points),
                    score=float(score),
                    detector=self.name,
                )
            )
        return sort_by_area(faces)

    @classmethod
    def five_points(cls, points: np.ndarray) -> np.ndarray:
        # dlib 5-point order: 0-1 outer/inner corner of the eye with larger x, 2-3 the other eye,
        # 4 nose base.
        eye_a = points[0:2].mean(axis=0)
        eye_b = points[2:4].mean(axis=0)
        right_eye, left_eye = sorted((eye_a, eye_b), key=lambda p: p[0])
        across = left_eye - right_eye
        down = np.array([-across[1], across[0]])  # across rotated 90 degrees towards the chin
        eye_mid = (right_eye + left_eye) / 2
        base = points[4] - eye_mid
        unit_down = down / max(float(np.dot(down, down)), 1e-6)
        drop = float(np.dot(base, unit_down))  # in inter-eye distances
        nose = points[4] - (1 - cls.NOSE_TIP_FROM_BASE) * drop * down
        mouth_centre = eye_mid + cls.MOUTH_DROP * down
        half = cls.MOUTH_HALF_WIDTH * across
        return np.stack(
            [right_eye, left_eye, nose, mouth_centre - half, mouth_centre + half]
        ).astype(np.float32)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_yunet_model(configured_path: str | Path | None, cache_dir: Path) -> Path:
    """The YuNet ONNX file: the configured one, else a verified cached copy, else a download.

    Raises FileNotFoundError for a configured path that does not exist, ValueError when a
    download does not match YUNET_SHA256 (the file is deleted), OSError when downloading fails.
    """
    if configured_path:
        path = Path(configured_path)
        if not path.is_file():
            raise FileNotFoundError(f"configured YuNet model {path} does not exist")
        return path
    cached = Path(cache_dir) / YUNET_CACHE_NAME
    if cached.is_file() and sha256_of(cached) == YUNET_SHA256:
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading YuNet model from %s", YUNET_URL)
    with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".part", delete=False) as part:
        partial = Path(part.name)
    try:
        # A timeout, because a worker that hangs on a blackholed network never falls back.
        with urllib.request.urlopen(YUNET_URL, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310
            partial.write_bytes(response.read())
        actual = sha256_of(partial)
        if actual != YUNET_SHA256:
            raise ValueError(f"YuNet download has sha256 {actual}, expected {YUNET_SHA256}")
        os.replace(partial, cached)
    finally:
        partial.unlink(missing_ok=True)
    return cached


@functools.cache
def get_detector(
    name: str = "yunet",
    yunet_model: str | None = None,
    cache_dir: str | Path | None = None,
) -> FaceDetector:
    """One detector per (name, model) per process. "yunet" falls back to "dlib-hog" only when the
    YuNet file cannot be had; the stand-in says why in `fallback_reason`."""
    if name == "dlib-hog":
        return DlibHogDetector()
    if name != "yunet":
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    try:
        path = resolve_yunet_model(yunet_model, Path(cache_dir or default_cache_dir()))
    except (OSError, ValueError) as exc:
        reason = f"YuNet model unavailable ({exc}); using dlib-hog, which finds fewer faces"
        logger.warning("FACE DETECTOR FALLBACK: %s", reason)
        detector = DlibHogDetector()
        detector.fallback_reason = reason
        return detector
    return YuNetDetector(path)
