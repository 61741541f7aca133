"""Embedders and a per-process loader. Importing this package loads no model and no TensorFlow."""

from __future__ import annotations

import functools
import os

from recognition.ml.artifacts import ArtifactError
from recognition.ml.embedders.base import Embedder, l2_normalise

EMBEDDER_NAMES = ("mobilenetv2-siamese", "dlib-resnet", "contrastive-cnn")

__all__ = ["EMBEDDER_NAMES", "Embedder", "l2_normalise", "load_embedder", "default_backbone_handle"]


def default_backbone_handle() -> str:
    from recognition.ml.embedders.mobilenet import PUBLIC_BACKBONE_HANDLE

    return os.environ.get("FACEPASS_BACKBONE_HANDLE") or PUBLIC_BACKBONE_HANDLE


@functools.cache
def load_embedder(
    name: str, artifact_dir: str | None = None, backbone_handle: str | None = None
) -> Embedder:
    """One embedder per (name, artifact) per process; loading a model takes seconds.

    dlib-resnet: artifact_dir optional (a metadata-only directory), weights come from the
    face-recognition-models package. mobilenetv2-siamese: artifact_dir required.
    """
    if name == "dlib-resnet":
        from recognition.ml.artifacts import read_metadata
        from recognition.ml.embedders.dlib_resnet import DlibResNetEmbedder

        metadata = read_metadata(artifact_dir) if artifact_dir else None
        if metadata and metadata["embedder"] != name:
            raise ArtifactError(f"{artifact_dir} is a {metadata['embedder']} artifact, not {name}")
        return DlibResNetEmbedder(metadata)
    if name == "mobilenetv2-siamese":
        from recognition.ml.embedders.mobilenet import MobileNetV2SiameseEmbedder

        if not artifact_dir:
            raise ArtifactError(
                "mobilenetv2-siamese needs a model artifact directory (--model DIR or env "
                "FACEPASS_MODEL_DIR). Create an untrained baseline with: python -m "
                "recognition.ml.make_untrained_artifact --out DIR [--backbone HANDLE]"
            )
        return MobileNetV2SiameseEmbedder(artifact_dir, backbone_handle)
    if name == "contrastive-cnn":
        from recognition.ml.embedders.contrastive import ContrastiveCnnEmbedder

        if not artifact_dir:
            raise ArtifactError("contrastive-cnn needs a trained artifact directory (--model DIR)")
        return ContrastiveCnnEmbedder(artifact_dir)
    raise ValueError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDER_NAMES)}")
