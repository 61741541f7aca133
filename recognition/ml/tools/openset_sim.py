"""Offline gate simulation over embeddings: the decision rules of a face-only (1:N) gate and of
a ticket + face (1:1) gate, applied to real and synthetic galleries, probed by strangers and by
holders.

1:N rule (the rule checkins/decision.py implements): the holder with the best fused score s1,
runner-up s2;
    ADMIT  when s1 >= admit threshold t(N, level, K) and s1 - s2 >= margin,
    REVIEW when not admitted and s1 >= review threshold (the 1:1 threshold at the level's FAR),
    DENY   otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recognition.ml.tools.openset_data import Labelled, fused_matrix

DENY, REVIEW, ADMIT = 0, 1, 2


@dataclass
class Gallery:
    photos: np.ndarray  # (N, K, d) unit embeddings of each holder's enrollment photos
    labels: np.ndarray  # (N,) identity of each holder ("" for synthetic holders)

    @property
    def size(self) -> int:
        return len(self.labels)


@dataclass
class Top2:
    """Best and runner-up fused scores of each probe, and the best holder."""

    best: np.ndarray
    second: np.ndarray
    holder: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray) -> Top2:
        holder = np.argmax(scores, axis=1)
        best = scores[np.arange(len(scores)), holder]
        if scores.shape[1] < 2:
            return cls(best, np.full(len(best), -np.inf), holder)
        second = np.partition(scores, -2, axis=1)[:, -2]
        return cls(best, second, holder)


def top2(probes: np.ndarray, gallery: Gallery, fusion: str, chunk: int = 1024) -> Top2:
    parts = [
        Top2.of(fused_matrix(probes[i : i + chunk], gallery.photos, fusion))
        for i in range(0, len(probes), chunk)
    ]
    return Top2(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in ("best", "second", "holder"))
    )


def decide(top: Top2, admit: float, review: float, margin: float) -> np.ndarray:
    admitted = (top.best >= admit) & (top.best - top.second >= margin)
    return np.where(admitted, ADMIT, np.where(top.best >= review, REVIEW, DENY))


def tally_strangers(decisions: np.ndarray) -> dict:
    n = len(decisions)
    admitted, review = int((decisions == ADMIT).sum()), int((decisions == REVIEW).sum())
    return {
        "probes": n,
        "admitted": admitted,
        "review": review,
        "denied": n - admitted - review,
        "fpir": admitted / n if n else float("nan"),
        "review_share": review / n if n else float("nan"),
    }


def tally_genuine(decisions: np.ndarray, top: Top2, gallery: Gallery, truth: np.ndarray) -> dict:
    own = gallery.labels[top.holder] == truth
    n = len(decisions)
    counts: dict[str, float] = {
        "probes": n,
        "admitted": int(((decisions == ADMIT) & own).sum()),
        "admitted_wrong_holder": int(((decisions == ADMIT) & ~own).sum()),
        "review_own_on_top": int(((decisions == REVIEW) & own).sum()),
        "review_wrong_on_top": int(((decisions == REVIEW) & ~own).sum()),
        "denied": int((decisions == DENY).sum()),
    }
    review = counts["review_own_on_top"] + counts["review_wrong_on_top"]
    counts["tpir"] = counts["admitted"] / n
    counts["review_share"] = review / n
    counts["admitted_or_review"] = (counts["admitted"] + review) / n
    counts["admitted_or_review_own_on_top"] = (counts["admitted"] + counts["review_own_on_top"]) / n
    return counts


def enroll(data: Labelled, photos: int) -> tuple[Gallery, Labelled]:
    """The first `photos` photos (path order) of each identity with at least that many become
    its enrollment; every other photo is a genuine probe."""
    order = np.argsort(data.paths, kind="stable")
    enrolled, names = [], []
    probe = np.ones(len(data.labels), bool)
    for name in np.unique(data.labels):
        members = [i for i in order if data.labels[i] == name]
        if len(members) < photos:
            probe[members] = False
            continue
        enrolled.append(data.vectors[members[:photos]])
        names.append(name)
        probe[members[:photos]] = False
    return Gallery(np.stack(enrolled), np.array(names)), data.subset(probe)


def with_fill(gallery: Gallery, fill: np.ndarray) -> Gallery:
    """The gallery plus synthetic holders (M, K, d)."""
    return Gallery(
        np.concatenate([gallery.photos, fill]),
        np.concatenate([gallery.labels, np.full(len(fill), "", dtype=gallery.labels.dtype)]),
    )


def synthetic_holders(space, count: int, photos: int, rng) -> np.ndarray:
    identities = space.identities(count, rng)
    return space.photos(np.repeat(identities, photos, axis=0), rng).reshape(count, photos, -1)


def one_to_one(
    genuine: Labelled, strangers: Labelled, gallery: Gallery, fusion: str, threshold: float
) -> dict:
    """Ticket + face: each genuine probe against its own holder, each stranger against every
    holder (a stranger presenting each ticket in turn)."""
    index = {name: i for i, name in enumerate(gallery.labels)}
    keep = np.array([name in index for name in genuine.labels])
    owners = np.array([index[name] for name in genuine.labels[keep]])
    scores = fused_matrix(genuine.vectors[keep], gallery.photos, fusion)
    own = scores[np.arange(len(owners)), owners]
    impostor = fused_matrix(strangers.vectors, gallery.photos, fusion).ravel()
    return {
        "threshold": threshold,
        "genuine_attempts": int(len(own)),
        "genuine_admitted": int((own >= threshold).sum()),
        "genuine_admit_rate": float((own >= threshold).mean()),
        "impostor_attempts": int(len(impostor)),
        "impostor_admitted": int((impostor >= threshold).sum()),
        "far_measured": float((impostor >= threshold).mean()),
    }
