"""MobileNetV2 Siamese embedder: TF-Hub MobileNetV2 feature vector + Dense(128) + L2 normalise.

Artifact layout (self-contained, serving downloads nothing):
  metadata.json      see recognition.ml.runtime.artifacts
  model/             the whole tf-keras model as a SavedModel, backbone weights included
  model.onnx         optional (metadata "onnx"): the same network for onnxruntime, written by
                     recognition.ml.training.onnx_export; when present it is what serves, and
                     TensorFlow is never imported (a worker stays small and starts fast)
A training run may instead leave `weights.h5` (head and backbone weights only); that form is
rebuilt from `backbone_handle` and needs the backbone at load time.
TensorFlow is imported only when a model is built or loaded.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from recognition.ml.keras_compat import tensorflow_modules
from recognition.ml.runtime.alignment import TEMPLATE_NAME
from recognition.ml.runtime.artifacts import ArtifactError, read_metadata, write_metadata
from recognition.ml.runtime.embedders.base import Embedder

NAME = "mobilenetv2-siamese"
INPUT_SIZE = 224
# The ArcFace template is tight (brows to chin); ImageNet features do better with some context.
MARGIN = 0.15
MODEL_DIR = "model"
WEIGHTS_FILE = "weights.h5"
UNTRAINED_WARNING = (
    "UNTRAINED: the 128-d head is a random projection of ImageNet MobileNetV2 features. "
    "It is a baseline for measurement only, far too weak to admit people with."
)


def build_mobilenetv2_embedding_model(
    backbone_handle: str,
    trainable_backbone: bool = False,
    dimensions: int = 128,
    input_size: int = INPUT_SIZE,
):
    """tf-keras model: float32 RGB in [0, 1], [b, size, size, 3] -> unit-length [b, dimensions]."""
    _, keras, hub = tensorflow_modules()
    inputs = keras.Input((input_size, input_size, 3), name="face_rgb01")
    features = hub.KerasLayer(backbone_handle, trainable=trainable_backbone, name="backbone")(
        inputs
    )
    projected = keras.layers.Dense(dimensions, name="projection")(features)
    outputs = keras.layers.UnitNormalization(axis=1, name="l2_normalise")(projected)
    return keras.Model(inputs, outputs, name="mobilenetv2_siamese_embedding")


def base_metadata(backbone_handle: str, trained: bool, version: str) -> dict[str, Any]:
    return {
        "name": NAME,
        "version": version,
        "embedder": NAME,
        "input_size": INPUT_SIZE,
        "margin": MARGIN,
        "alignment_template": TEMPLATE_NAME,
        "dimensions": 128,
        "input": "float32 RGB in [0, 1]",
        "backbone_handle": str(backbone_handle),
        "thresholds": {},
        "metrics": {},
        "training": {},
        "trained": trained,
    }


def create_untrained_artifact(out_dir: str | Path, backbone_handle: str, seed: int = 0) -> Path:
    """Write the baseline artifact: pretrained backbone, randomly initialised head."""
    _, keras, _ = tensorflow_modules()
    keras.utils.set_random_seed(seed)
    model = build_mobilenetv2_embedding_model(backbone_handle)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_DIR, save_format="tf", include_optimizer=False)
    version = f"untrained-{dt.date.today():%Y%m%d}"
    metadata = base_metadata(backbone_handle, trained=False, version=version)
    metadata["training"] = {"head_init_seed": seed}
    metadata["warning"] = UNTRAINED_WARNING
    write_metadata(out, metadata)
    return out


def load_keras_model(artifact_dir: Path, backbone_handle: str | None):
    _, keras, hub = tensorflow_modules()
    saved = artifact_dir / MODEL_DIR
    if saved.is_dir():
        return keras.models.load_model(
            saved, custom_objects={"KerasLayer": hub.KerasLayer}, compile=False
        )
    weights = artifact_dir / WEIGHTS_FILE
    if weights.is_file():
        if not backbone_handle:
            raise ArtifactError(f"{artifact_dir} holds weights only and needs a backbone handle")
        model = build_mobilenetv2_embedding_model(backbone_handle)
        model.load_weights(weights)
        return model
    raise ArtifactError(f"{artifact_dir} has neither {MODEL_DIR}/ nor {WEIGHTS_FILE}")


class MobileNetV2SiameseEmbedder(Embedder):
    def __init__(
        self, artifact_dir: str | Path, backbone_handle: str | None = None, threads: int = 1
    ):
        directory = Path(artifact_dir)
        self.metadata = read_metadata(directory)
        if self.metadata["embedder"] != NAME:
            raise ArtifactError(
                f"{directory} is a {self.metadata['embedder']} artifact, not {NAME}"
            )
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
        else:
            handle = backbone_handle or self.metadata.get("backbone_handle")
            self._model = load_keras_model(directory, handle)

    def _embed_batch(self, crops: np.ndarray) -> np.ndarray:
        scaled = crops.astype(np.float32) / 255.0
        if self.runtime == "onnx":
            return self._session.run(None, {self._input: scaled})[0]
        return self._model(scaled, training=False).numpy()


def onnx_session(path: Path, threads: int):
    """onnxruntime on the CPU with a fixed thread count (workers scale by process count)."""
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: the artifact's metadata names it")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
