"""Synthetic holders shaped like a model's real embeddings, to fill galleries beyond the real
identities (pure numpy; the same generative model as benchmarks/gallery.py FaceSpace, which
could import this one).

identity = centre + base_weight * (base photo - centre) + identity_scale * N(0, between)
photo    = unit(identity + photo_scale * q * N(0, within)),  q = exp(spread * N(0,1) - spread**2)

between / within: the real between- and within-identity covariances; base photos: real unit
embeddings. fit() sets the four scales so that synthetic genuine pairs have the real genuine mean
and spread, impostor pairs the real impostor mean, and two identities grown from one base photo
("twins") the real impostors' 99th percentile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recognition.ml.runtime.fusion import unit


def _factor(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))).astype(np.float32)


def covariances(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(between-identity, within-identity) covariance factors of labelled unit embeddings."""
    names, owner = np.unique(labels, return_inverse=True)
    counts = np.bincount(owner)
    means = np.zeros((len(names), vectors.shape[1]))
    np.add.at(means, owner, vectors)
    means /= counts[:, None]
    several = counts[owner] >= 2
    deviations = (vectors - means[owner])[several]
    within = deviations.T @ deviations / max(int(several.sum()) - int((counts >= 2).sum()), 1)
    centred = means - means.mean(axis=0)
    between = centred.T @ centred / max(len(names) - 1, 1)
    return _factor(between), _factor(within)


@dataclass
class FaceSpace:
    bases: np.ndarray  # real unit embeddings that identities grow from
    between: np.ndarray
    within: np.ndarray
    scales: list = field(default_factory=lambda: [1.0, 0.5, 1.0, 0.2])  # w, s_id, s_ph, spread

    @property
    def centre(self) -> np.ndarray:
        return self.bases.mean(axis=0)

    def identities(self, count: int, rng) -> np.ndarray:
        picks = rng.integers(0, len(self.bases), count)
        noise = rng.standard_normal((count, self.bases.shape[1]), dtype=np.float32)
        weight, identity_scale = self.scales[0], self.scales[1]
        centre = self.centre
        return (
            centre + weight * (self.bases[picks] - centre) + identity_scale * noise @ self.between.T
        )

    def photos(self, identities: np.ndarray, rng) -> np.ndarray:
        noise = rng.standard_normal(identities.shape, dtype=np.float32) @ self.within.T
        scale, spread = self.scales[2], self.scales[3]
        quality = np.exp(spread * rng.standard_normal(len(identities)) - spread**2)
        return unit(identities + (scale * quality).astype(np.float32)[:, None] * noise)

    def fit(self, target: dict, rng, samples: int = 2000) -> FaceSpace:
        """target: {"genuine_mean", "genuine_std", "impostor_mean", "impostor_p99"} of real pairs.
        Common random numbers keep each statistic a smooth monotone function of its scale, so
        alternating bisections converge."""
        n, d = samples, self.bases.shape[1]
        base = self.bases[rng.integers(0, len(self.bases), 2 * n)] - self.centre
        z_id = rng.standard_normal((3 * n, d), dtype=np.float32) @ self.between.T
        z_ph = rng.standard_normal((3, 2 * n, d), dtype=np.float32) @ self.within.T
        z_q = rng.standard_normal((3, 2 * n)).astype(np.float32)
        first, second, third = slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n)

        def photos(i, rows, p, id_rows=None):
            w, s_id, s_ph, spread = p
            centres = (
                self.centre + w * base[rows] + s_id * z_id[rows if id_rows is None else id_rows]
            )
            scale = s_ph * np.exp(spread * z_q[i, rows] - spread**2)[:, None]
            return unit(centres + scale * z_ph[i, rows])

        def pair_mean(kind, p, stat=np.mean):
            a = photos(0, first, p)
            b = {
                "genuine": lambda: photos(1, first, p),
                "impostor": lambda: photos(2, second, p),
                "twin": lambda: photos(2, first, p, id_rows=third),
            }[kind]()
            return stat(np.einsum("ij,ij->i", a, b))

        def solve(i, f, goal, lo, hi, increasing=False):
            for _ in range(12):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if (f(self._with(i, mid)) < goal) == increasing else (lo, mid)
            self.scales[i] = (lo + hi) / 2

        for _ in range(4):
            solve(2, lambda p: pair_mean("genuine", p), target["genuine_mean"], 0, 4)
            solve(3, lambda p: pair_mean("genuine", p, np.std), target["genuine_std"], 0, 1.5, True)
            solve(1, lambda p: pair_mean("twin", p), target["impostor_p99"], 0, 4)
            solve(0, lambda p: pair_mean("impostor", p), target["impostor_mean"], 0, 2)
        self.scales = [round(float(x), 4) for x in self.scales]
        return self

    def _with(self, i: int, value: float) -> list:
        return [*self.scales[:i], value, *self.scales[i + 1 :]]


def pair_targets(vectors: np.ndarray, labels: np.ndarray) -> dict:
    """The statistics FaceSpace.fit matches, from every pair of real labelled embeddings."""
    similarity = vectors @ vectors.T
    upper = np.triu(np.ones(similarity.shape, bool), k=1)
    same = labels[:, None] == labels[None, :]
    genuine, impostor = similarity[upper & same], similarity[upper & ~same]
    return {
        "genuine_mean": float(genuine.mean()),
        "genuine_std": float(genuine.std()),
        "impostor_mean": float(impostor.mean()),
        "impostor_p99": float(np.percentile(impostor, 99)),
    }
