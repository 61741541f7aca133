"""dlib's ResNet face descriptor (face-recognition-models' dlib_face_recognition_resnet_model_v1).

Alignment reproduces dlib's own face chip rather than the generic template: dlib's 5-point shape
predictor runs on the detected box and dlib.get_face_chip cuts a 150x150 chip with padding 0.25,
exactly as the network was trained. The predictor was trained on dlib's own square detector boxes;
YuNet's boxes are taller (forehead to chin), so they are first turned into the square box dlib
would have drawn (YUNET_BOX_SHIFT, measured: ROC AUC 0.9934 -> 0.9950 on half of celeba-dev/val).
The descriptor is L2-normalised so cosine similarity applies
(dlib's usual Euclidean distance 0.6 on raw descriptors is not used).

The network itself runs on onnxruntime by default (recognition.ml.dlib.onnx: the same weights,
equal to dlib's output within 1e-6, ~3 ms a face instead of ~57 ms with the BLAS-less dlib-bin
wheel), so embeddings and thresholds are the same model version either way.
runtime="dlib" runs dlib's own code (the baseline of the benchmarks); if onnxruntime cannot
load, the embedder falls back to it with a warning.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import cv2
import numpy as np

from recognition.ml.dlib.models import dlib_model_path
from recognition.ml.dlib.onnx import DlibResNetOnnx
from recognition.ml.runtime.config import DLIB_RUNTIMES, default_cache_dir
from recognition.ml.runtime.detection import DetectedFace
from recognition.ml.runtime.embedders.base import Embedder

logger = logging.getLogger(__name__)

NAME = "dlib-resnet"
# Centre shift (in box heights) taking a YuNet box to dlib's square box of the same width.
YUNET_BOX_SHIFT = 0.06
DEFAULT_METADATA: dict[str, Any] = {
    "name": NAME,
    "version": "dlib_face_recognition_resnet_model_v1",
    "embedder": NAME,
    "input_size": 150,
    "margin": 0.25,
    "alignment_template": "dlib-5pt-face-chip",
    "dimensions": 128,
    # Cosine-similarity thresholds measured on celeba-dev/val (1057 faces, 545,262 impostor pairs)
    # with YuNet: python -m recognition.ml.tools.evaluate --embedder dlib-resnet --write-thresholds.
    # An artifact directory written that way overrides these.
    "thresholds": {"1e-2": 0.91435, "1e-3": 0.93005, "1e-4": 0.94081},
    "metrics": {
        "data": "celeba-dev/val",
        "roc_auc": 0.9914,
        "eer": 0.0439,
        "tar_at_far": {"1e-2": 0.9077, "1e-3": 0.7853, "1e-4": 0.6433},
        "rank1": 0.9384,
    },
    "training": {"source": "dlib-models, pretrained by Davis King; not trained here"},
    "trained": True,
}


def default_metadata() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_METADATA)


def dlib_style_box(face: DetectedFace) -> tuple[float, float, float, float]:
    """The square box dlib's detector would draw for this face."""
    x, y, w, h = face.box
    if face.detector == "dlib-hog":
        return x, y, w, h
    centre_x, centre_y = x + w / 2, y + h / 2 + YUNET_BOX_SHIFT * h
    return centre_x - w / 2, centre_y - w / 2, w, w


class DlibResNetEmbedder(Embedder):
    def __init__(
        self,
        metadata: dict[str, Any] | None = None,
        runtime: str = "onnx",
        threads: int = 1,
        cache_dir: str | None = None,
    ):
        import dlib

        if runtime not in DLIB_RUNTIMES:
            raise ValueError(f"dlib runtime must be one of {DLIB_RUNTIMES}, not {runtime!r}")
        self.metadata = metadata or default_metadata()
        self.name = NAME
        self.version = self.metadata["version"]
        self.input_size = int(self.metadata["input_size"])
        self.margin = float(self.metadata["margin"])
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(dlib_model_path("shape_predictor_5_face_landmarks"))
        weights = dlib_model_path("dlib_face_recognition_resnet_model_v1")
        self.runtime = runtime
        onnx_cache = cache_dir or default_cache_dir()
        self._onnx = self._load_onnx(weights, onnx_cache, threads) if runtime == "onnx" else None
        self._model = dlib.face_recognition_model_v1(weights) if self._onnx is None else None

    def _load_onnx(self, weights: str, cache_dir: str, threads: int):
        try:
            return DlibResNetOnnx(weights, cache_dir, threads=threads)
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            logger.warning("onnxruntime unavailable (%s); dlib-resnet runs on dlib itself", exc)
            self.runtime = "dlib"
            return None

    def align(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray:
        # cvtColor: the same pixels as a reversed-channel copy, 0.24 -> 0.005 ms a photo.
        rgb = cv2.cvtColor(np.ascontiguousarray(image_bgr), cv2.COLOR_BGR2RGB)
        x, y, w, h = dlib_style_box(face)
        rect = self._dlib.rectangle(round(x), round(y), round(x + w), round(y + h))
        shape = self._predictor(rgb, rect)
        return self._dlib.get_face_chip(rgb, shape, size=self.input_size, padding=self.margin)

    def _embed_batch(self, crops: np.ndarray) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.embed(np.ascontiguousarray(crops, dtype=np.uint8))
        assert self._model is not None  # one of the two runtimes is always loaded
        chips = [np.ascontiguousarray(crop) for crop in crops]
        return np.array(self._model.compute_face_descriptor(chips), dtype=np.float32)
