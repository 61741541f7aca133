"""The design's second model: a small siamese CNN trained with contrastive loss.

Its artifact is a whole tf-keras SavedModel (grayscale conversion is a layer of
the model), so it takes the same RGB crops as the other embedders. When the metadata names an
ONNX file (written by recognition.ml.training.onnx_export), that serves on onnxruntime and
TensorFlow is never imported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recognition.ml.keras_compat import tensorflow_modules
from recognition.ml.runtime.artifacts import ArtifactError, read_metadata
from recognition.ml.runtime.embedders.base import Embedder
from recognition.ml.runtime.embedders.mobilenet import MODEL_DIR, onnx_session

NAME = "contrastive-cnn"


class ContrastiveCnnEmbedder(Embedder):
    def __init__(self, artifact_dir: str | Path, threads: int = 1):
        directory = Path(artifact_dir)
        self.metadata = read_metadata(directory)
        if self.metadata["embedder"] != NAME:
            raise ArtifactError(f"{directory} is a {self.metadata['embedder']} artifact")
        self.name = NAME
        self.version = self.metadata["version"]
        self.input_size = int(self.metadata["input_size"])
        self.margin = float(self.metadata["margin"])
        self.dimensions = int(self.metadata["dimensions"])
        onnx_file = self.metadata.get("onnx")
        self.runtime = "onnx" if onnx_file else "tensorflow"
        if onnx_file:
            self._session = onnx_session(directory / onnx_file, threads)
            self._input = self._session.get_inputs()[0].name
            return
        _, keras, _ = tensorflow_modules()
        if not (directory / MODEL_DIR).is_dir():
            raise ArtifactError(f"{directory} has no {MODEL_DIR}/ SavedModel")
        self._model = keras.models.load_model(directory / MODEL_DIR, compile=False)

    def _embed_batch(self, crops: np.ndarray) -> np.ndarray:
        scaled = crops.astype(np.float32) / 255.0
        if self.runtime == "onnx":
            return self._session.run(None, {self._input: scaled})[0]
        return self._model(scaled, training=False).numpy()
