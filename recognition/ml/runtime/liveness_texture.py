"""Single-frame cues of a photo or screen held up to the camera: moire (a display's pixel grid
aliasing against the camera's, seen as sharp peaks in the face's spectrum), glare and a raised
black level (reflections on glass or glossy paper), colour cast, and the straight edges of a card
or phone around the face. Each returns one number per frame, larger meaning more attack-like.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from recognition.ml.runtime.detection import DetectedFace

# Frequencies of JPEG's 8x8 block grid (k/8 cycles per pixel): every camera frame has them.
JPEG_PERIOD = 8
MIN_RADIUS = 0.08  # cycles per pixel; below, face structure and illumination dominate
SATURATED = 250
TOP_PEAKS = 5


def face_patch(grey: np.ndarray, face: DetectedFace, fraction: float = 0.8) -> np.ndarray | None:
    """The largest power-of-two square (32..256 px) inside the central part of the face, taken
    without resampling so the camera's own pixel frequencies are kept."""
    side = int(fraction * face.box[2])
    size = 1 << max(5, min(8, side.bit_length() - 1))
    if side < 32:
        return None
    cx, cy = face.landmarks.astype(np.float64).mean(axis=0)
    x0, y0 = int(round(cx - size / 2)), int(round(cy - size / 2))
    height, width = grey.shape[:2]
    x0, y0 = min(max(x0, 0), width - size), min(max(y0, 0), height - size)
    if x0 < 0 or y0 < 0:
        return None
    return grey[y0 : y0 + size, x0 : x0 + size]


@functools.cache
def spectrum_layout(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hann window, ring index of every bin (flattened), bins per ring, and the mask of bins the
    peak search looks at."""
    window = np.outer(np.hanning(size), np.hanning(size)).astype(np.float32)
    freq = np.fft.fftfreq(size)
    fy, fx = np.meshgrid(freq, freq, indexing="ij")
    radius = np.hypot(fx, fy)
    rings = np.minimum((radius * size).astype(int), size // 2)
    on_jpeg_grid = np.zeros_like(radius, dtype=bool)
    for f in (fx, fy):
        harmonic = np.round(f * JPEG_PERIOD)
        bins_away = np.abs(f * JPEG_PERIOD - harmonic) * size / JPEG_PERIOD
        on_jpeg_grid |= (harmonic != 0) & (bins_away < 1.01)
    searched = (radius >= MIN_RADIUS) & (radius <= 0.5) & ~on_jpeg_grid
    counts = np.bincount(rings.ravel(), minlength=size // 2 + 1)
    return window, rings.ravel(), np.maximum(counts, 1), searched.ravel()


def moire_score(patch: np.ndarray) -> float:
    """How far the strongest narrow peaks of the face's spectrum stand above the mean of their
    frequency ring (natural log units, mean of the top few): a display's grid beating against the
    sensor puts energy into a few frequencies, skin and hair spread it over all of them."""
    size = patch.shape[0]
    window, rings, counts, searched = spectrum_layout(size)
    centred = patch.astype(np.float32) - float(patch.mean())
    flat = np.log(np.abs(np.fft.fft2(centred * window)) + 1e-3).ravel()
    ring_mean = np.bincount(rings, weights=flat, minlength=counts.size) / counts
    whitened = (flat - ring_mean[rings])[searched]
    top = np.partition(whitened, -TOP_PEAKS)[-TOP_PEAKS:]
    return float(top.mean())


def glare_score(patch: np.ndarray) -> float:
    """Share of the face blown out to white: glass and gloss reflect lamps as broad patches; skin
    shows small specular dots."""
    return float(np.mean(patch >= SATURATED))


def black_level(patch: np.ndarray) -> float:
    """The face's darkest percent, as a share of its brightest: pupils and nostrils are near black
    on a live face; a reflective screen or paper lifts them."""
    low, high = np.percentile(patch, [1, 99])
    return float(low / max(high, 1.0))


def colour_score(frame_bgr: np.ndarray, face: DetectedFace) -> float:
    """Mean chroma of the face in Lab units (a display's white point and gamut tint it)."""
    if frame_bgr.ndim == 2:
        return 0.0
    x, y, w, h = (int(round(v)) for v in face.box)
    crop = frame_bgr[max(y, 0) : y + h, max(x, 0) : x + w]
    if crop.size == 0:
        return 0.0
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB).astype(np.float32)
    return float(np.hypot(lab[..., 1] - 128, lab[..., 2] - 128).mean())


def edge_score(grey: np.ndarray, face: DetectedFace) -> float:
    """Total length of long straight edges outside the face oval, in face widths: a card's or a
    phone's border; heads, hair and shoulders are curved."""
    width = face.box[2]
    edges = cv2.Canny(cv2.GaussianBlur(grey, (5, 5), 1.2), 40, 120)
    mask = np.ones_like(edges)
    cx, cy = face.landmarks.astype(np.float64).mean(axis=0)
    axes = (int(0.65 * width), int(0.85 * face.box[3]))
    cv2.ellipse(mask, (int(cx), int(cy)), axes, 0, 0, 360, 0, -1)
    margin = 3  # the image's own border is not an edge in the scene
    mask[:margin, :] = mask[-margin:, :] = 0
    mask[:, :margin] = mask[:, -margin:] = 0
    lines = cv2.HoughLinesP(
        np.asarray(edges * mask, np.uint8),
        1,
        np.pi / 180,
        threshold=40,
        minLineLength=int(0.35 * width),
        maxLineGap=4,
    )
    if lines is None:
        return 0.0
    segments = lines[:, 0, :].astype(np.float64)
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    return float(lengths.sum() / width)
