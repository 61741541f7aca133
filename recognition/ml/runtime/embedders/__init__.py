"""Embedders and a per-process loader. Importing this package loads no model, no TensorFlow and no
dlib: each embedder imports its runtime when it is built."""

from __future__ import annotations

import functools

from recognition.ml.runtime.artifacts import EMBEDDER_KINDS, ArtifactError, read_metadata
from recognition.ml.runtime.config import RuntimeConfig
from recognition.ml.runtime.embedders.base import Embedder, l2_normalise
from recognition.ml.runtime.embedders.contrastive import ContrastiveCnnEmbedder
from recognition.ml.runtime.embedders.dlib_resnet import DlibResNetEmbedder
from recognition.ml.runtime.embedders.mobilenet import MobileNetV2SiameseEmbedder

EMBEDDER_NAMES = EMBEDDER_KINDS

__all__ = ["EMBEDDER_NAMES", "Embedder", "l2_normalise", "load_embedder"]


@functools.cache
def load_embedder(
    name: str, artifact_dir: str | None = None, config: RuntimeConfig | None = None
) -> Embedder:
    """One embedder per (name, artifact, configuration) per process; loading takes seconds.

    dlib-resnet: artifact_dir optional (a metadata-only directory), weights come from the
    face-recognition-models package. mobilenetv2-siamese and contrastive-cnn: artifact_dir
    required.
    """
    config = config or RuntimeConfig()
    if name == "dlib-resnet":
        metadata = read_metadata(artifact_dir) if artifact_dir else None
        if metadata and metadata["embedder"] != name:
            raise ArtifactError(f"{artifact_dir} is a {metadata['embedder']} artifact, not {name}")
        return DlibResNetEmbedder(
            metadata,
            runtime=config.dlib_runtime,
            threads=config.onnx_threads,
            cache_dir=config.cache_dir,
        )
    if name == "mobilenetv2-siamese":
        if not artifact_dir:
            raise ArtifactError(
                "mobilenetv2-siamese needs a model artifact directory (--model DIR). Create an "
                "untrained baseline with: python -m "
                "recognition.ml.training.make_untrained_artifact --out DIR [--backbone HANDLE]"
            )
        return MobileNetV2SiameseEmbedder(
            artifact_dir, config.backbone_handle, threads=config.onnx_threads
        )
    if name == "contrastive-cnn":
        if not artifact_dir:
            raise ArtifactError("contrastive-cnn needs a trained artifact directory (--model DIR)")
        return ContrastiveCnnEmbedder(artifact_dir, threads=config.onnx_threads)
    raise ValueError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDER_NAMES)}")
