"""Fixtures for the ML core tests: shared data by path (env FACEPASS_SHARED_DIR, default
../shared next to the repository), models loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Three val identities with several clear frontal photos each; the first two files of each are used.
IDENTITIES = ("7204", "7207", "7215")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return Path(os.environ.get("FACEPASS_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def val_dir(shared_dir) -> Path:
    return shared_dir / "datasets" / "celeba-dev" / "val"


@pytest.fixture(scope="session")
def yunet_model_path(shared_dir) -> Path:
    return shared_dir / "models" / "face_detection_yunet_2026may.onnx"


@pytest.fixture(scope="session")
def backbone_handle(shared_dir) -> str:
    return str(shared_dir / "models" / "mobilenet_v2_100_224_feature_vector")


@pytest.fixture(scope="session")
def dynamic_backbone(shared_dir) -> str:
    """The MobileNetV2 SavedModel that accepts any input size (the distillation student's)."""
    return str(shared_dir / "models" / "mobilenet_v2_100_feature_vector_dynamic")


@pytest.fixture(scope="session")
def val_photos(val_dir) -> dict[str, list[Path]]:
    """Two photos per identity, sorted so the choice is stable."""
    return {name: sorted((val_dir / name).glob("*.jpg"))[:2] for name in IDENTITIES}


@pytest.fixture(scope="session")
def photo_path(val_photos) -> Path:
    return val_photos[IDENTITIES[0]][0]


@pytest.fixture(scope="session")
def photo(photo_path) -> np.ndarray:
    from recognition.ml.runtime.imageio import read_image_file

    return read_image_file(photo_path)


@pytest.fixture(scope="session")
def yunet(yunet_model_path):
    from recognition.ml.runtime.detection import YuNetDetector

    return YuNetDetector(yunet_model_path)


@pytest.fixture(scope="session")
def dlib_embedder():
    from recognition.ml.runtime.embedders import load_embedder

    return load_embedder("dlib-resnet")


@pytest.fixture(scope="session")
def untrained_artifact(tmp_path_factory, backbone_handle) -> Path:
    from recognition.ml.runtime.embedders.mobilenet import create_untrained_artifact

    return create_untrained_artifact(tmp_path_factory.mktemp("artifact") / "mnv2", backbone_handle)


@pytest.fixture(scope="session")
def mobilenet_embedder(untrained_artifact):
    from recognition.ml.runtime.embedders import load_embedder

    return load_embedder("mobilenetv2-siamese", str(untrained_artifact))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, val_photos) -> Path:
    """3 identities x 2 photos, symlinked (the images are never copied)."""
    root = tmp_path_factory.mktemp("tiny")
    for name, paths in val_photos.items():
        (root / name).mkdir()
        for path in paths:
            (root / name / path.name).symlink_to(path)
    return root


@pytest.fixture(scope="session")
def cli_env(yunet_model_path, backbone_handle) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FACEPASS_YUNET_MODEL=str(yunet_model_path),
        FACEPASS_BACKBONE_HANDLE=backbone_handle,
        PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.pop("FACEPASS_MODEL_DIR", None)
    return env
