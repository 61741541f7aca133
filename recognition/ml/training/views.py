"""Consistent augmented views for online distillation (arXiv 2106.05237: a patient, consistent
teacher sees exactly the view the student sees).

Each source photo is detected once (box and five landmarks, cached). Every time it is drawn, the
whole photo is transformed once: a random flip, rotation, scale and shift (landmarks and box move
with it), then colour jitter, sometimes greyscale, blur or JPEG re-encoding. From that one photo
the student's crop (template alignment at the student's size) and the teacher's dlib chip are both
cut, so the teacher labels the same augmented face the student learns from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from recognition.ml.runtime.alignment import align_face
from recognition.ml.runtime.detection import DetectedFace, FaceDetector
from recognition.ml.runtime.imageio import ImageDecodeError, read_image_file
from recognition.ml.training.data import MIN_FACES_PER_IDENTITY, identity_files

logger = logging.getLogger(__name__)
FLIP_ORDER = [1, 0, 2, 4, 3]  # YuNet order: right eye, left eye, nose, right mouth, left mouth


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the photo transform; zero everywhere means the untouched photo."""

    flip: float = 0.5
    rotate_degrees: float = 10.0
    scale: float = 0.08  # zoom in [1 - scale, 1 + scale]
    shift: float = 0.05  # of the face box width
    brightness: float = 0.15
    contrast: float = 0.2
    saturation: float = 0.3
    greyscale: float = 0.1
    blur: float = 0.15
    jpeg: float = 0.2

    @classmethod
    def none(cls) -> Augmentation:
        return cls(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


@dataclass
class SourcePhotos:
    """Photos with their largest face, grouped by identity label."""

    paths: list[str]
    boxes: np.ndarray  # float32 [n, 4] x, y, w, h
    landmarks: np.ndarray  # float32 [n, 5, 2]
    labels: np.ndarray  # int32 [n]
    names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def face(self, index: int) -> DetectedFace:
        box = tuple(float(v) for v in self.boxes[index])
        return DetectedFace(box, self.landmarks[index].copy(), 1.0)  # type: ignore[arg-type]


def detect_sources(
    data_dir: str | Path, detector: FaceDetector, cache_dir: Path, progress: bool = True
) -> SourcePhotos:
    """Largest face of every photo under <identity>/ folders, cached per file listing."""
    from tqdm import tqdm

    files = identity_files(Path(data_dir))
    listing = json.dumps(
        [
            str(Path(data_dir).resolve()),
            detector.name,
            {name: [p.name for p in paths] for name, paths in files.items()},
        ],
        sort_keys=True,
    )
    cache = cache_dir / f"sources-{hashlib.sha256(listing.encode()).hexdigest()[:16]}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            return SourcePhotos(
                [str(p) for p in data["paths"]],
                data["boxes"],
                data["landmarks"],
                data["labels"],
                [str(n) for n in data["names"]],
            )
    paths: list[str] = []
    boxes: list[tuple] = []
    points: list[np.ndarray] = []
    labels: list[int] = []
    names: list[str] = []
    for name, members in tqdm(files.items(), desc="detect", file=sys.stderr, disable=not progress):
        found = [(p, f) for p, f in ((p, first_face(p, detector)) for p in members) if f]
        if len(found) < MIN_FACES_PER_IDENTITY:
            continue
        for path, face in found:
            paths.append(str(path))
            boxes.append(face.box)
            points.append(face.landmarks)
            labels.append(len(names))
        names.append(name)
    sources = SourcePhotos(
        paths,
        np.asarray(boxes, np.float32),
        np.asarray(points, np.float32),
        np.asarray(labels, np.int32),
        names,
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(cache.name + ".part.npz")
    np.savez(
        partial,
        paths=np.array(paths),
        boxes=sources.boxes,
        landmarks=sources.landmarks,
        labels=sources.labels,
        names=np.array(names),
    )
    partial.replace(cache)
    return sources


def first_face(path: Path, detector: FaceDetector) -> DetectedFace | None:
    try:
        faces = detector.detect(read_image_file(path))
    except (OSError, ImageDecodeError) as exc:
        logger.warning("skipping unreadable image %s: %s", path, exc)
        return None
    return faces[0] if faces else None


def photo_transform(face: DetectedFace, width: int, rng, aug: Augmentation) -> tuple:
    """(2x3 matrix, flipped, zoom): flip about the photo's centre line, then rotate/scale about the
    face centre and shift by a fraction of the face width."""
    x, y, w, h = face.box
    flipped = bool(rng.random() < aug.flip)
    flip = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    centre_x = (width - 1.0 - (x + w / 2)) if flipped else x + w / 2
    angle = rng.uniform(-aug.rotate_degrees, aug.rotate_degrees)
    scale = rng.uniform(1.0 - aug.scale, 1.0 + aug.scale)
    rotate = np.asarray(cv2.getRotationMatrix2D((centre_x, y + h / 2), angle, scale), np.float64)
    rotate[:, 2] = rotate[:, 2] + rng.uniform(-aug.shift, aug.shift, 2) * w
    matrix = rotate @ (flip if flipped else np.eye(3))
    return matrix, flipped, scale


def moved_face(face: DetectedFace, matrix: np.ndarray, flipped: bool, scale: float):
    points = face.landmarks.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    if flipped:
        points = points[FLIP_ORDER]
    x, y, w, h = face.box
    centre = np.array([x + w / 2, y + h / 2]) @ matrix[:, :2].T + matrix[:, 2]
    box = (centre[0] - w * scale / 2, centre[1] - h * scale / 2, w * scale, h * scale)
    return DetectedFace(box, points.astype(np.float32), face.score, face.detector)


def photometric(image: np.ndarray, rng, aug: Augmentation) -> np.ndarray:
    """Colour jitter, greyscale, blur and JPEG artefacts on a BGR uint8 photo."""
    out: np.ndarray = image.astype(np.float32)
    if aug.saturation:
        grey = out.mean(axis=2, keepdims=True)
        out = grey + (out - grey) * rng.uniform(1 - aug.saturation, 1 + aug.saturation)
    mean = out.mean()
    out = (out - mean) * rng.uniform(1 - aug.contrast, 1 + aug.contrast) + mean
    out = out + np.float32(rng.uniform(-aug.brightness, aug.brightness) * 255.0)
    if rng.random() < aug.greyscale:
        out[:] = out @ np.array([0.114, 0.587, 0.299], np.float32)[:, None]  # BGR luma
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < aug.blur:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < aug.jpeg:
        quality = int(rng.integers(35, 90))
        ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
            out = out if decoded is None else decoded
    return out


class ViewMaker:
    """Student crop and teacher chip of one augmented photo; teacher = dlib-resnet embedder."""

    def __init__(self, sources: SourcePhotos, teacher, size: int, margin: float, aug: Augmentation):
        self.sources, self.teacher = sources, teacher
        self.size, self.margin, self.aug = size, margin, aug

    def view(self, index: int, rng) -> tuple[np.ndarray, np.ndarray]:
        image = read_image_file(self.sources.paths[index])
        face = self.sources.face(index)
        height, width = image.shape[:2]
        matrix, flipped, scale = photo_transform(face, width, rng, self.aug)
        photo = cv2.warpAffine(
            image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101
        )
        photo = photometric(photo, rng, self.aug)
        moved = moved_face(face, matrix, flipped, scale)
        crop = align_face(photo, moved.landmarks, self.size, self.margin)
        return crop, self.teacher.align(photo, moved)

    def batch(
        self, indices: np.ndarray, rng, morph: Morph | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """uint8 student crops [b, s, s, 3] RGB, unit teacher embeddings [b, 128] and identity
        labels [b] (new negative ones for identities made by `morph`)."""
        views = [self.view(int(i), rng) for i in indices]
        crops = np.stack([v[0] for v in views])
        chips = np.stack([v[1] for v in views])
        labels = self.sources.labels[indices].astype(np.int32)
        if morph is not None and morph.fraction > 0:
            crops, chips, labels = morph_identities(crops, chips, labels, morph, rng)
        teacher = self.teacher.embed(chips)
        return crops, np.asarray(teacher, np.float32), labels


@dataclass(frozen=True)
class Morph:
    """Face morphs as new identities: with 189 training people the student learns the teacher's
    map on too few faces, and a blend of two aligned faces is a face the teacher has an answer
    for. `fraction` of the identity groups of a P x K batch become blends with another group."""

    fraction: float = 0.0
    k: int = 4  # photos per identity group, consecutive in the batch
    weight_low: float = 0.3
    weight_high: float = 0.7


def morph_identities(
    crops: np.ndarray, chips: np.ndarray, labels: np.ndarray, morph: Morph, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend whole groups: photo j of group g with photo j of a partner group, one weight per
    group, so the K blends are K photos of one new person (label -1 - g). Alignment is linear in
    the pixels, so blending the aligned student crops and the aligned teacher chips shows both
    networks the same morph."""
    groups = len(labels) // morph.k
    if groups < 2:
        return crops, chips, labels
    out_crops, out_chips, out_labels = crops.copy(), chips.copy(), labels.copy()
    for group in np.flatnonzero(rng.random(groups) < morph.fraction):
        partner = int(rng.choice([g for g in range(groups) if g != group]))
        weight = rng.uniform(morph.weight_low, morph.weight_high)
        rows = slice(group * morph.k, (group + 1) * morph.k)
        other = slice(partner * morph.k, (partner + 1) * morph.k)
        out_crops[rows] = blend(crops[rows], crops[other], weight)
        out_chips[rows] = blend(chips[rows], chips[other], weight)
        out_labels[rows] = -1 - group
    return out_crops, out_chips, out_labels


def blend(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    mixed = first.astype(np.float32) * weight + second.astype(np.float32) * (1.0 - weight)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
