"""The face runtime's configuration, passed in: the Django bridge (recognition.inference) builds it
from settings, the command-line tools from their flags. Nothing in recognition.ml reads the
process environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PUBLIC_BACKBONE_HANDLE = "https://tfhub.dev/google/tf2-preview/mobilenet_v2/feature_vector/4"
DLIB_RUNTIMES = ("onnx", "dlib")


def default_cache_dir() -> str:
    return str(Path.home() / ".cache" / "facepass")


@dataclass(frozen=True)
class RuntimeConfig:
    """Frozen, so loaders can cache one model per configuration."""

    detector: str = "yunet"
    yunet_model: str | None = None  # None: a verified cached copy, else a download
    cache_dir: str = field(default_factory=default_cache_dir)  # downloads, converted models
    backbone_handle: str = PUBLIC_BACKBONE_HANDLE  # TF-Hub handle for weights-only artifacts
    dlib_runtime: str = "onnx"  # dlib-resnet's network on onnxruntime, or dlib's own code
    onnx_threads: int = 1  # intra-op threads; worker processes scale by count instead

    def __post_init__(self) -> None:
        if self.dlib_runtime not in DLIB_RUNTIMES:
            raise ValueError(
                f"dlib runtime must be one of {DLIB_RUNTIMES}, not {self.dlib_runtime!r}"
            )
        if self.onnx_threads < 1:
            raise ValueError("onnx threads must be at least 1")
