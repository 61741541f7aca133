"""Training data: <identity>/<images> folders -> aligned face crops, detected and aligned once.

The largest face of each image is detected (YuNet by default, model file from env
FACEPASS_YUNET_MODEL) and aligned onto the embedder's template. The crops are cached in one .npz
file per (data folder, file list, input size, margin, detector, per-identity cap), so later runs
skip detection entirely. Identities with fewer than two usable faces are dropped: they can give
no positive pair.

Also here: the P identities x K images batch sampler used by both training recipes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recognition.ml.runtime.alignment import align_face
from recognition.ml.runtime.config import default_cache_dir
from recognition.ml.runtime.detection import FaceDetector
from recognition.ml.runtime.imageio import ImageDecodeError, read_image_file
from recognition.ml.tools.cli import CliError, images_in

logger = logging.getLogger(__name__)
MIN_FACES_PER_IDENTITY = 2
CACHE_FORMAT = 2  # 2: source paths stored beside the crops


@dataclass
class FaceSet:
    """Aligned crops with integer labels; names[label] is the identity folder name."""

    crops: np.ndarray  # uint8 [n, size, size, 3] RGB
    labels: np.ndarray  # int32 [n], 0 .. len(names) - 1
    names: list[str]
    summary: dict = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)  # source image of each crop

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def identities(self) -> int:
        return len(self.names)


def identity_files(data_dir: Path) -> dict[str, list[Path]]:
    """Sorted image files per identity folder (images nested deeper count for their top folder)."""
    if not data_dir.is_dir():
        raise CliError(f"training data {data_dir} is not a directory")
    found = {}
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        files = images_in(folder)
        if files:
            found[folder.name] = files
    if not found:
        raise CliError(f"no <identity>/<image> files under {data_dir}")
    return found


def detector_key(detector: FaceDetector) -> str:
    model = getattr(detector, "model_path", None)
    return f"{detector.name}:{model.name if model else ''}"


def cache_path(
    cache_dir: Path,
    data_dir: Path,
    files: dict[str, list[Path]],
    size: int,
    margin: float,
    detector: FaceDetector,
    max_per_identity: int | None,
) -> Path:
    listing = {name: [p.name for p in paths] for name, paths in files.items()}
    key = json.dumps(
        [
            CACHE_FORMAT,
            str(data_dir.resolve()),
            listing,
            size,
            margin,
            detector_key(detector),
            max_per_identity,
        ],
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"faces-{data_dir.name}-{size}-{digest}.npz"


def largest_face_crop(path: Path, detector: FaceDetector, size: int, margin: float):
    try:
        image = read_image_file(path)
    except (OSError, ImageDecodeError) as exc:
        logger.warning("skipping unreadable image %s: %s", path, exc)
        return None
    faces = detector.detect(image)
    if not faces:
        return None
    return align_face(image, faces[0].landmarks, size, margin)


def detect_and_align(
    files: dict[str, list[Path]],
    detector: FaceDetector,
    size: int,
    margin: float,
    max_per_identity: int | None,
    progress: bool = True,
) -> FaceSet:
    """The first max_per_identity usable faces of each identity (file order), all when None."""
    from tqdm import tqdm

    crops: list[np.ndarray] = []
    labels: list[int] = []
    names: list[str] = []
    sources: list[str] = []
    counts = {"images_tried": 0, "no_face": 0, "identities_dropped": 0}
    for name, paths in tqdm(
        files.items(), desc="detect+align", unit="id", file=sys.stderr, disable=not progress
    ):
        found: list[np.ndarray] = []
        found_paths: list[str] = []
        for path in paths:
            if max_per_identity and len(found) >= max_per_identity:
                break
            counts["images_tried"] += 1
            crop = largest_face_crop(path, detector, size, margin)
            if crop is None:
                counts["no_face"] += 1
            else:
                found.append(crop)
                found_paths.append(str(path))
        if len(found) < MIN_FACES_PER_IDENTITY:
            counts["identities_dropped"] += 1
            continue
        crops.extend(found)
        sources.extend(found_paths)
        labels.extend([len(names)] * len(found))
        names.append(name)
    return make_faceset(crops, labels, names, size, counts, sources)


def make_faceset(crops, labels, names, size, counts, paths=()) -> FaceSet:
    array = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    summary = dict(counts, identities=len(names), images=len(labels))
    return FaceSet(
        array.astype(np.uint8), np.asarray(labels, np.int32), list(names), summary, list(paths)
    )


def save_cache(path: Path, faces: FaceSet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part.npz")
    np.savez_compressed(
        partial,
        crops=faces.crops,
        labels=faces.labels,
        names=np.array(faces.names),
        summary=np.array(json.dumps(faces.summary)),
        paths=np.array(faces.paths),
    )
    partial.replace(path)


def load_cache(path: Path) -> FaceSet:
    with np.load(path) as data:
        return FaceSet(
            data["crops"],
            data["labels"].astype(np.int32),
            [str(n) for n in data["names"]],
            json.loads(str(data["summary"])),
            [str(p) for p in data["paths"]],
        )


def load_faces(
    data_dir: str | Path,
    detector: FaceDetector,
    size: int,
    margin: float,
    max_per_identity: int | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> FaceSet:
    """Aligned crops of a labelled folder, from the cache when it has them."""
    root = Path(data_dir)
    files = identity_files(root)
    cache = cache_path(
        Path(cache_dir or Path(default_cache_dir()) / "train"),
        root,
        files,
        size,
        margin,
        detector,
        max_per_identity,
    )
    if cache.is_file():
        logger.info("using cached crops %s", cache)
        faces = load_cache(cache)
    else:
        faces = detect_and_align(files, detector, size, margin, max_per_identity, progress)
        save_cache(cache, faces)
    faces.summary["cache"] = str(cache)
    if faces.identities < 2:
        raise CliError(f"{root}: need at least two identities with two usable faces each")
    return faces


def pk_batch(labels: np.ndarray, p: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of P identities x K images each (images repeat only when an identity has < K)."""
    identities = np.unique(labels)
    chosen = rng.choice(identities, size=min(p, len(identities)), replace=False)
    picks = []
    for identity in chosen:
        members = np.flatnonzero(labels == identity)
        picks.append(rng.choice(members, size=k, replace=len(members) < k))
    return np.concatenate(picks)


def fixed_batches(labels: np.ndarray, p: int, k: int, count: int, seed: int) -> list[np.ndarray]:
    """The same batches every call: for a validation loss comparable across epochs."""
    rng = np.random.default_rng(seed)
    return [pk_batch(labels, p, k, rng) for _ in range(count)]
