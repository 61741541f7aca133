"""Verification and identification metrics over every pair, in numpy.

Convention: a pair is accepted when its cosine similarity is >= the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pair_scores(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of every unordered pair: (genuine, impostor)."""
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    upper = np.triu_indices(len(labels), k=1)
    same = labels[upper[0]] == labels[upper[1]]
    scores = similarity[upper]
    return scores[same].astype(np.float64), scores[~same].astype(np.float64)


def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Probability a genuine pair outscores an impostor pair (ties count half): Mann-Whitney U."""
    scores = np.concatenate([genuine, impostor])
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Average 1-based rank of each distinct value, so ties share their rank.
    upper_rank = np.cumsum(counts)
    average_rank = upper_rank - (counts - 1) / 2.0
    genuine_ranks = average_rank[inverse[: len(genuine)]].sum()
    n_gen, n_imp = len(genuine), len(impostor)
    return float((genuine_ranks - n_gen * (n_gen + 1) / 2.0) / (n_gen * n_imp))


@dataclass
class Roc:
    thresholds: np.ndarray  # descending
    far: np.ndarray  # impostor pairs accepted / impostor pairs
    tar: np.ndarray  # genuine pairs accepted / genuine pairs


def roc_curve(genuine: np.ndarray, impostor: np.ndarray) -> Roc:
    thresholds = np.unique(np.concatenate([genuine, impostor]))[::-1]
    return Roc(
        thresholds=thresholds,
        far=accepted_fraction(impostor, thresholds),
        tar=accepted_fraction(genuine, thresholds),
    )


def accepted_fraction(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    ordered = np.sort(scores)
    below = np.searchsorted(ordered, thresholds, side="left")
    return (len(ordered) - below) / len(ordered)


def equal_error_rate(roc: Roc) -> float:
    """Where false accepts equal false rejects (interpolated between the two nearest points)."""
    frr = 1.0 - roc.tar
    gap = roc.far - frr  # rises as the threshold falls
    index = int(np.argmax(gap >= 0))
    if index == 0:
        return float((roc.far[0] + frr[0]) / 2)
    g0, g1 = gap[index - 1], gap[index]
    weight = -g0 / (g1 - g0) if g1 != g0 else 0.5
    far = roc.far[index - 1] + weight * (roc.far[index] - roc.far[index - 1])
    rej = frr[index - 1] + weight * (frr[index] - frr[index - 1])
    return float((far + rej) / 2)


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """Lowest similarity threshold whose false accept rate on these impostors is <= far."""
    descending = np.sort(impostor)[::-1]
    allowed = int(np.floor(far * len(descending)))
    if allowed >= len(descending):
        return float(descending[-1])
    # Just above the first impostor that must be refused, so at most `allowed` pass.
    return float(np.nextafter(descending[allowed], np.inf))


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> dict[str, float]:
    threshold = threshold_at_far(impostor, far)
    return {
        "threshold": threshold,
        "tar": float(np.mean(genuine >= threshold)),
        "far_measured": float(np.mean(impostor >= threshold)),
    }


def rank1_identification(embeddings: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """First image of each identity is its gallery entry; every other image is a probe."""
    _, first = np.unique(labels, return_index=True)
    gallery = np.zeros(len(labels), bool)
    gallery[first] = True
    if gallery.all():
        return {"probes": 0, "gallery": int(gallery.sum()), "rank1": float("nan")}
    similarity = embeddings[~gallery] @ embeddings[gallery].T
    predicted = labels[gallery][np.argmax(similarity, axis=1)]
    correct = predicted == labels[~gallery]
    return {
        "probes": int((~gallery).sum()),
        "gallery": int(gallery.sum()),
        "rank1": float(correct.mean()),
    }
