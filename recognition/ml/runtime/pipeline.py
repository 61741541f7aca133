"""Photos in, quality verdicts and embeddings out, with per-stage timings.

Stages: decode (when given bytes), detect, quality, align, embed. Accepted faces of one call are
embedded in a single batch, which is what makes enrollment of many photos fast.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from recognition.ml.runtime.detection import DetectedFace, FaceDetector
from recognition.ml.runtime.embedders.base import Embedder
from recognition.ml.runtime.imageio import ImageDecodeError, decode_image, read_image_file
from recognition.ml.runtime.quality import (
    QualityThresholds,
    QualityVerdict,
    assess_presence,
    assess_quality,
)

logger = logging.getLogger(__name__)
STAGES = ("decode", "detect", "quality", "align", "embed")


@dataclass
class FaceResult:
    """verdict.code is a quality code, or an ImageDecodeError code for undecodable bytes."""

    verdict: QualityVerdict
    embedding: np.ndarray | None  # float32 [dimensions], unit length; None unless accepted
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.verdict.accepted and self.embedding is not None

    @property
    def face(self) -> DetectedFace | None:
        return self.verdict.face


@dataclass
class GateFrame:
    """One frame of a gate burst: the decoded image (None when undecodable) and its result."""

    image: np.ndarray | None
    result: FaceResult


@contextmanager
def timed(timings: dict[str, float], stage: str):
    start = time.perf_counter()
    yield
    timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0


def undecodable(error: ImageDecodeError, timings: dict[str, float]) -> FaceResult:
    return FaceResult(QualityVerdict(False, error.code, error.message), None, timings)


class FacePipeline:
    def __init__(
        self,
        detector: FaceDetector,
        embedder: Embedder,
        thresholds: QualityThresholds | None = None,
        decode_limits: dict | None = None,
    ):
        self.detector = detector
        self.embedder = embedder
        self.thresholds = thresholds or QualityThresholds()
        # decode_image's max_bytes, max_pixels and reduce_to_side. Boxes and quality figures
        # are in the pixels decoded, which for a reduced JPEG are fewer than the file's.
        self.decode_limits = decode_limits or {}

    def _decode(self, image: np.ndarray | bytes, timings: dict[str, float]) -> np.ndarray:
        if isinstance(image, np.ndarray):
            return image
        with timed(timings, "decode"):
            return decode_image(image, **self.decode_limits)

    def _examine(self, image, assess) -> tuple[FaceResult, np.ndarray | None, np.ndarray | None]:
        """Decode, detect and judge one photo; returns the result, its crop when accepted and
        the decoded image (None when undecodable)."""
        timings: dict[str, float] = {}
        try:
            image_bgr = self._decode(image, timings)
        except ImageDecodeError as exc:
            return undecodable(exc, timings), None, None
        with timed(timings, "detect"):
            faces = self.detector.detect(image_bgr)
        with timed(timings, "quality"):
            verdict = assess(image_bgr, faces)
        if not verdict.accepted:
            return FaceResult(verdict, None, timings), None, image_bgr
        with timed(timings, "align"):
            crop = self.embedder.align(image_bgr, verdict.face)
        return FaceResult(verdict, None, timings), crop, image_bgr

    def _embed_into(self, results: list[FaceResult], crops: list[np.ndarray]) -> None:
        if not crops:
            return
        start = time.perf_counter()
        embeddings = self.embedder.embed(np.stack(crops))
        per_face = (time.perf_counter() - start) * 1000.0 / len(crops)
        for result, embedding in zip(results, embeddings, strict=True):
            result.embedding = embedding
            result.timings_ms["embed"] = per_face

    def process(self, images: list[np.ndarray | bytes]) -> list[FaceResult]:
        """Enrollment: every quality gate, then one embedding batch for the accepted photos."""

        def assess(image_bgr, faces):
            return assess_quality(image_bgr, faces, self.thresholds)

        examined = [self._examine(image, assess) for image in images]
        accepted = [(result, crop) for result, crop, _ in examined if crop is not None]
        self._embed_into([r for r, _ in accepted], [c for _, c in accepted])
        return [result for result, _, _ in examined]

    def embed_largest_face(self, image: np.ndarray | bytes) -> FaceResult:
        """The gate: no enrollment standards, only one prominent face (no_face, multiple_faces)."""
        return self.embed_frames([image])[0].result

    def embed_frames(self, images: list[np.ndarray | bytes]) -> list[GateFrame]:
        """A gate burst: each frame's one prominent face, embedded in one batch, with the decoded
        frames kept for the liveness check."""

        def assess(_image_bgr, faces):
            return assess_presence(faces, self.thresholds)

        examined = [self._examine(image, assess) for image in images]
        accepted = [(result, crop) for result, crop, _ in examined if crop is not None]
        self._embed_into([r for r, _ in accepted], [c for _, c in accepted])
        return [GateFrame(image_bgr, result) for result, _, image_bgr in examined]


@dataclass
class EmbeddedFiles:
    """What the CLIs need for a list of files: the largest face of each, no quality gates."""

    paths: list[str]
    embeddings: np.ndarray  # float32 [n, d], zeros where no face
    detected: np.ndarray  # bool [n]
    boxes: np.ndarray  # float32 [n, 4] x, y, w, h; zeros where no face
    timings_ms: dict[str, float]  # total per stage over all files
    unreadable: list[str]


def embed_files(
    paths: list[str],
    detector: FaceDetector,
    embedder: Embedder,
    chunk: int = 32,
    progress: bool = True,
) -> EmbeddedFiles:
    """Embed the largest face of each file. Unreadable files are warned about, count as no face."""
    from tqdm import tqdm

    n = len(paths)
    out = EmbeddedFiles(
        list(paths),
        np.zeros((n, embedder.dimensions), np.float32),
        np.zeros(n, bool),
        np.zeros((n, 4), np.float32),
        {stage: 0.0 for stage in STAGES if stage != "quality"},
        [],
    )
    bar = tqdm(
        total=n, desc=f"embed {embedder.name}", unit="img", file=sys.stderr, disable=not progress
    )
    for start in range(0, n, chunk):
        indices, crops = [], []
        for index in range(start, min(start + chunk, n)):
            crop = _largest_face_crop(paths[index], index, detector, embedder, out)
            if crop is not None:
                indices.append(index)
                crops.append(crop)
        if crops:
            with timed(out.timings_ms, "embed"):
                out.embeddings[indices] = embedder.embed(np.stack(crops))
        bar.update(min(chunk, n - start))
    bar.close()
    return out


def _largest_face_crop(path, index, detector, embedder, out: EmbeddedFiles):
    try:
        with timed(out.timings_ms, "decode"):
            image = read_image_file(path)
    except (OSError, ImageDecodeError) as exc:
        logger.warning("skipping unreadable image %s: %s", path, exc)
        out.unreadable.append(path)
        return None
    with timed(out.timings_ms, "detect"):
        faces = detector.detect(image)
    if not faces:
        return None
    out.detected[index] = True
    out.boxes[index] = faces[0].box
    with timed(out.timings_ms, "align"):
        return embedder.align(image, faces[0])
