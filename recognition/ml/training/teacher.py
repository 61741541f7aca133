"""Teacher embeddings for distillation: dlib-resnet descriptors of the same faces as a FaceSet.

dlib's network wants its own 150 px face chip, not the student's crop, so every source image is
detected again and cut dlib's way; the largest face is used, as for the student's crop. The
result is cached beside the crop cache (one .npy per crop cache), so a second run costs nothing.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from recognition.ml.runtime.detection import FaceDetector
from recognition.ml.runtime.imageio import read_image_file
from recognition.ml.training.data import FaceSet

logger = logging.getLogger(__name__)
TEACHER = "dlib-resnet"


def teacher_cache_path(faces: FaceSet) -> Path | None:
    crop_cache = faces.summary.get("cache")
    if not crop_cache:
        return None
    return Path(crop_cache).with_suffix(f".{TEACHER}.npy")


def compute_teacher_embeddings(
    paths: list[str], detector: FaceDetector, progress: bool = True
) -> np.ndarray:
    from tqdm import tqdm

    from recognition.ml.runtime.embedders.dlib_resnet import DlibResNetEmbedder

    teacher = DlibResNetEmbedder()
    vectors = np.zeros((len(paths), teacher.dimensions), np.float32)
    for index, path in enumerate(
        tqdm(paths, desc="teacher", unit="face", file=sys.stderr, disable=not progress)
    ):
        image = read_image_file(path)
        found = detector.detect(image)
        if not found:  # the crop came from this image, so this only happens if files changed
            raise RuntimeError(f"no face in {path} any more: clear the training cache")
        vectors[index] = teacher.embed([teacher.align(image, found[0])])[0]
    return vectors


def teacher_embeddings(faces: FaceSet, detector: FaceDetector, progress: bool = True):
    """Unit-length [n, 128] dlib-resnet embeddings, row i for faces.crops[i]."""
    if len(faces.paths) != len(faces):
        raise RuntimeError("this face set has no source paths: clear the training cache")
    cache = teacher_cache_path(faces)
    if cache is not None and cache.is_file():
        vectors = np.load(cache)
        if len(vectors) == len(faces):
            return vectors
    vectors = compute_teacher_embeddings(faces.paths, detector, progress)
    if cache is not None:
        partial = cache.with_name(cache.name + ".part.npy")
        np.save(partial, vectors)
        partial.replace(cache)
        logger.info("teacher embeddings cached in %s", cache)
    return vectors
