"""The embedder interface: aligned RGB crops in, unit-length 128-d float32 vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from recognition.ml.runtime.alignment import align_face
from recognition.ml.runtime.detection import DetectedFace


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class Embedder(ABC):
    """Subclasses set the attributes below from their artifact metadata and implement
    `_embed_batch`; chunking, validation, normalisation and the mirror view live here.

    An artifact whose metadata has `"flip_average": true` is embedded as the normalised sum of
    the unit embeddings of each crop and of its mirror image (test-time flip, as insightface
    evaluates). Its thresholds are calibrated that way, so the flag is part of the model: changing
    it means a new version."""

    name: str
    version: str
    dimensions: int = 128
    input_size: int
    margin: float
    metadata: dict[str, Any]
    batch_size: int = 32

    def align(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray:
        """The crop this embedder expects: RGB uint8 [input_size, input_size, 3]."""
        return align_face(image_bgr, face.landmarks, self.input_size, self.margin)

    def embed(self, crops: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Embed n aligned crops (any n, chunked internally) -> float32 [n, dimensions], unit L2."""
        batch = np.asarray(crops, dtype=np.uint8)
        if batch.ndim == 3:
            batch = batch[None]
        if len(batch) == 0:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        expected = (self.input_size, self.input_size, 3)
        if batch.ndim != 4 or batch.shape[1:] != expected:
            raise ValueError(
                f"{self.name} expects crops of shape [n, {expected}], got {batch.shape}"
            )
        chunks = [
            self._embed_views(batch[start : start + self.batch_size])
            for start in range(0, len(batch), self.batch_size)
        ]
        return l2_normalise(np.concatenate(chunks).astype(np.float32))

    @property
    def flip_average(self) -> bool:
        return bool(self.metadata.get("flip_average", False))

    def _embed_views(self, crops: np.ndarray) -> np.ndarray:
        if not self.flip_average:
            return self._embed_batch(crops)
        # One call for both views: a session run costs less per face on a batch twice the size.
        both = self._embed_batch(np.concatenate([crops, crops[:, :, ::-1]]))
        count = len(crops)
        return l2_normalise(both[:count]) + l2_normalise(both[count:])

    @abstractmethod
    def _embed_batch(self, crops: np.ndarray) -> np.ndarray:
        """Raw (unnormalised) embeddings of at most batch_size crops (twice that with the
        mirror view: both views go in one call)."""

    def describe(self) -> str:
        return f"{self.name} {self.version}"
