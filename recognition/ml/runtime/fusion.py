"""Score fusion: one similarity per (attempt, holder) from several photos and several frames.

The product's fusion (measured in recognition.ml.tools.calibrate_openset, `fusion` study):
- holder side: a holder's enrollment photos become one template, the mean of their unit
  embeddings made unit again (`template`);
- attempt side: the frames of one attempt are scored against each template and the scores
  averaged (`frame_scores`). Averaging scores keeps a stranger's mean score and narrows its
  spread, whereas the best frame, or renormalising the mean of the frames, raises it; so the
  single-frame tail the open-set calibration was fitted on stays a conservative model for any
  number of frames.

`pair_fusion` holds the alternatives the study compares (best pair, top-2 mean).
"""

from __future__ import annotations

import numpy as np

HOLDER_FUSIONS = ("template", "max", "top2")


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def template(photos: np.ndarray) -> np.ndarray:
    """One holder's template: the unit mean of the unit embeddings of its photos (K, d) -> (d,)."""
    photos = np.atleast_2d(photos)
    if len(photos) == 0:
        raise ValueError("a template needs at least one photo")
    return unit(unit(photos).mean(axis=0))


def templates(photos: np.ndarray, owners: np.ndarray, holders: int) -> np.ndarray:
    """Templates of many holders at once: photos (P, d), owners (P,) in [0, holders)."""
    sums = np.zeros((holders, photos.shape[1]), np.float64)
    np.add.at(sums, np.asarray(owners), unit(photos))
    if (np.bincount(owners, minlength=holders) == 0).any():
        raise ValueError("every holder needs at least one photo")
    return unit(sums)


def frame_scores(frames: np.ndarray, holder_templates: np.ndarray) -> np.ndarray:
    """Fused score of one attempt against each template: the mean over frames of the cosine
    similarity. frames (F, d), holder_templates (N, d) unit rows -> (N,)."""
    frames = unit(np.atleast_2d(frames))
    return (frames @ np.atleast_2d(holder_templates).T).mean(axis=0)


def best_frame_scores(frames: np.ndarray, holder_templates: np.ndarray) -> np.ndarray:
    """Score of one attempt against each template: its best frame's cosine similarity.
    frames (F, d), holder_templates (N, d) unit rows -> (N,). A stranger then has F chances
    per holder, so thresholds are set for holders x frames comparisons (see openset: the
    product calls threshold_for with holders * frames); the best frame still wins when one
    frame of a burst is poor or shows someone else in passing."""
    frames = unit(np.atleast_2d(frames))
    return (frames @ np.atleast_2d(holder_templates).T).max(axis=0)


def pair_fusion(pair_scores: np.ndarray, method: str) -> np.ndarray:
    """Fuse the scores of one probe against each of a holder's K photos (last axis):
    "max" (best photo) or "top2" (mean of the best two; the best one when K == 1)."""
    pair_scores = np.asarray(pair_scores)
    if method == "max":
        return pair_scores.max(axis=-1)
    if method == "top2":
        best = np.sort(pair_scores, axis=-1)[..., -2:]
        return best.mean(axis=-1)
    raise ValueError(f"unknown pair fusion {method!r} (known: max, top2)")
