"""Labelled embeddings for the open-set calibration: loading, look-alike labels, templates and
fused scores of every (probe, template) pair.

Input files are recognition.ml.tools.embed outputs of <identity>/<photo> folders: the identity
is the photo's parent folder. Photos without a face are dropped (and counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognition.ml.runtime.fusion import pair_fusion, unit


@dataclass
class Labelled:
    vectors: np.ndarray  # (n, d) unit embeddings
    labels: np.ndarray  # (n,) identity names
    paths: np.ndarray  # (n,) photo paths
    without_face: int = 0

    def subset(self, keep: np.ndarray) -> Labelled:
        return Labelled(self.vectors[keep], self.labels[keep], self.paths[keep], self.without_face)

    @property
    def identities(self) -> np.ndarray:
        return np.unique(self.labels)


def load_embeddings(path: str | Path) -> Labelled:
    data = np.load(path)
    found = data["detected"].astype(bool)
    paths = data["paths"][found]
    labels = np.array([Path(p).parent.name for p in paths])
    return Labelled(unit(data["embeddings"][found]), labels, paths, int((~found).sum()))


def identity_medians(a: Labelled, b: Labelled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median photo-pair similarity of every identity of `a` with every identity of `b`:
    (names_a, names_b, medians[len(names_a), len(names_b)]). Same-name pairs within one set
    skip the photo's similarity with itself."""
    names_a, own_a = np.unique(a.labels, return_inverse=True)
    names_b, own_b = np.unique(b.labels, return_inverse=True)
    similarity = a.vectors @ b.vectors.T
    medians = np.full((len(names_a), len(names_b)), np.nan)
    rows = [np.flatnonzero(own_a == i) for i in range(len(names_a))]
    cols = [np.flatnonzero(own_b == j) for j in range(len(names_b))]
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            block = similarity[np.ix_(r, c)]
            if a is b and i == j:
                block = block[np.triu_indices(len(r), k=1)]
            if block.size:
                medians[i, j] = np.median(block)
    return names_a, names_b, medians


def duplicate_identities(sets: list[Labelled]) -> tuple[list[dict], float]:
    """Identity pairs (within or across the sets) whose photos are as similar as a typical
    person's own photos are to each other: median cross similarity >= the median of the
    identities' own medians. Such pairs are one person under two labels (label noise of the
    data), not strangers. Returns ([{a, b, median}], the cut-off)."""
    merged = Labelled(
        np.concatenate([s.vectors for s in sets]),
        np.concatenate([[f"{k}:{x}" for x in s.labels] for k, s in enumerate(sets)]),
        np.concatenate([s.paths for s in sets]),
    )
    names, _, medians = identity_medians(merged, merged)
    cutoff = float(np.nanmedian(np.diag(medians)))
    upper = np.triu(np.ones(medians.shape, bool), k=1) & (np.nan_to_num(medians) >= cutoff)
    found = [
        {"a": names[i], "b": names[j], "median": round(float(medians[i, j]), 4)}
        for i, j in zip(*np.nonzero(upper), strict=True)
    ]
    return found, round(cutoff, 4)


def strip_set_prefix(name: str) -> str:
    return name.split(":", 1)[1]


def template_groups(labels: np.ndarray, photos: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint groups of `photos` photos of one identity (shuffled; leftovers unused):
    (member indices (T, photos), identity of each group (T,))."""
    groups, owners = [], []
    for name in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == name))
        for start in range(0, len(members) - photos + 1, photos):
            groups.append(members[start : start + photos])
            owners.append(name)
    return np.array(groups, np.int64).reshape(-1, photos), np.array(owners)


def fused_matrix(probes: np.ndarray, photos: np.ndarray, fusion: str) -> np.ndarray:
    """Fused scores of probes (P, d) against holders' photos (H, K, d) -> (P, H).
    fusion: "template" (unit mean of the photos), "max" or "top2" (over the K pair scores)."""
    if fusion == "template":
        holder_templates = unit(unit(photos).mean(axis=1))
        return probes @ holder_templates.T
    pairs = np.einsum("pd,hkd->phk", probes, photos)
    return pair_fusion(pairs, fusion)


def split_scores(
    data: Labelled, photos: int, fusion: str, rng, excluded_pairs=frozenset(), chunk: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """(stranger scores, genuine scores) of every photo of `data` as a probe against every
    K-photo template of `data` (template_groups). Strangers: probe and template of different
    identities, except pairs in excluded_pairs (look-alike labels, as frozensets of names);
    genuine: same identity, probe not in the template. With K == 1 each unordered pair of
    photos counts once."""
    groups, owners = template_groups(data.labels, photos, rng)
    holder_photos = data.vectors[groups]
    member = np.zeros((len(data.labels), len(groups)), bool)
    member[groups, np.arange(len(groups))[:, None]] = True
    strangers, genuine = [], []
    for start in range(0, len(data.labels), chunk):
        rows = slice(start, start + chunk)
        scores = fused_matrix(data.vectors[rows], holder_photos, fusion)
        same = data.labels[rows, None] == owners[None, :]
        keep = ~member[rows]
        if photos == 1:  # group j is photo groups[j, 0]: count each unordered pair once
            keep &= np.arange(start, start + scores.shape[0])[:, None] < groups[None, :, 0]
        other = ~same & keep
        if excluded_pairs:
            other &= ~_excluded_block(data.labels[rows], owners, excluded_pairs)
        strangers.append(scores[other])
        genuine.append(scores[same & keep])
    return np.concatenate(strangers), np.concatenate(genuine)


def _excluded_block(probe_labels, owners, excluded_pairs) -> np.ndarray:
    block = np.zeros((len(probe_labels), len(owners)), bool)
    for pair in excluded_pairs:
        a, b = tuple(pair) if len(pair) == 2 else (next(iter(pair)),) * 2
        block |= (probe_labels[:, None] == a) & (owners[None, :] == b)
        block |= (probe_labels[:, None] == b) & (owners[None, :] == a)
    return block
