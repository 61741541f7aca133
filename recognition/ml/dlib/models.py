"""Paths of dlib's model files shipped by the face-recognition-models package.

The package's __init__ imports pkg_resources, which modern setuptools no longer provides, so it is
located without being imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def dlib_model_path(stem: str) -> str:
    """Path of `<stem>.dat`, e.g. "shape_predictor_5_face_landmarks"."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package face-recognition-models is not installed")
    path = Path(spec.submodule_search_locations[0]) / "models" / f"{stem}.dat"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from face-recognition-models")
    return str(path)
