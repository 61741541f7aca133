"""Similarity-transform face alignment onto a canonical five-point template."""

from __future__ import annotations

import cv2
import numpy as np

# ArcFace's five-point template in a 112x112 crop, in YuNet's landmark order (right eye, left eye,
# nose tip, right mouth corner, left mouth corner). It is widely used and keeps the face tight.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
TEMPLATE_NAME = "arcface-112-5pt"


def template_for(size: int, margin: float) -> np.ndarray:
    """Template points for a size x size crop that adds `margin` (a fraction of the tight crop's
    side) of context on every side of the 112x112 ArcFace frame."""
    inner = size / (1.0 + 2.0 * margin)
    return ARCFACE_TEMPLATE_112 / 112.0 * inner + margin * inner


def umeyama_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation mapping src onto dst, as a 2x3 matrix.

    Closed form (Umeyama 1991), so five points always give a deterministic answer, unlike the
    robust estimators in OpenCV that sample subsets.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (src_c**2).sum() / len(src)
    scale = np.trace(np.diag(singular) @ sign) / max(variance, 1e-12)
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def alignment_matrix(landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    return umeyama_similarity(landmarks, template_for(size, margin))


def align_face(
    image_bgr: np.ndarray, landmarks: np.ndarray, size: int, margin: float = 0.0
) -> np.ndarray:
    """Warp the face so its landmarks land on the template; returns RGB uint8 [size, size, 3]."""
    matrix = alignment_matrix(landmarks, size, margin)
    crop = cv2.warpAffine(
        image_bgr, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
