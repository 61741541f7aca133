"""Fitting the upper tail of stranger (impostor) scores: peaks over a threshold.

Above a high score u, exceedances y = score - u of a distribution in the domain of attraction
of an extreme-value law follow a generalised Pareto distribution (Pickands-Balkema-de Haan):
P(Y > y) = (1 + shape * y / scale) ** (-1 / shape). fit_tail picks u as the score exceeded by a
given share of the pairs (exceedance_rate, zeta), fits shape and scale by maximum likelihood,
and keeps the empirical survival below u (the body). The result is the dict stored per photo
count under metadata.json openset.tails and read by recognition.ml.runtime.openset.Tail.

Maximum likelihood by profile: with theta = shape / scale, the likelihood's maximum over shape
for fixed theta is shape(theta) = mean(log1p(theta * y)) (Grimshaw 1993), leaving a
one-dimensional search over theta > -1 / max(y).
"""

from __future__ import annotations

import math

import numpy as np

BODY_POINTS = 32
GENUINE_QUANTILES = 200


def _profile(theta: float, y: np.ndarray) -> tuple[float, float, float]:
    """(log-likelihood, shape, scale) maximised over shape for fixed theta = shape / scale."""
    n = len(y)
    if abs(theta) < 1e-12 * (1.0 / y.mean()):
        scale = float(y.mean())
        return -n * math.log(scale) - n, 0.0, scale
    logs = np.log1p(theta * y)
    shape = float(logs.mean())
    scale = shape / theta
    if scale <= 0 or shape == 0:
        return -math.inf, shape, scale
    return -n * math.log(scale) - (1.0 + 1.0 / shape) * float(logs.sum()), shape, scale


def gpd_fit(exceedances: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (shape, scale) of a generalised Pareto sample (values > 0)."""
    y = np.asarray(exceedances, np.float64)
    y = y[y > 0]
    if len(y) < 10:
        raise ValueError("a tail fit needs at least 10 exceedances")
    low = -1.0 / y.max()
    high = 50.0 / y.mean()
    # Coarse grid, dense near the lower bound where bounded (negative-shape) tails sit.
    grid = np.concatenate(
        [low * (1.0 - np.geomspace(1e-9, 1.0, 300)), np.geomspace(1e-6, 1.0, 300) * high]
    )
    values = [_profile(t, y)[0] for t in grid]
    best = int(np.nanargmax(values))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    a, b = min(a, b), max(a, b)
    golden = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(120):
        c, d = b - golden * (b - a), a + golden * (b - a)
        if _profile(c, y)[0] > _profile(d, y)[0]:
            b = d
        else:
            a = c
    _, shape, scale = _profile((a + b) / 2.0, y)
    return shape, scale


def fit_tail(scores: np.ndarray, exceedance_rate: float, extrapolate_decades: float) -> dict:
    """The openset tail block of one photo count from its stranger scores.

    min_probability = 10 ** -extrapolate_decades / pairs: how far below the data's own
    resolution (one pair in all) thresholds may be read off the fitted tail."""
    ordered = np.sort(np.asarray(scores, np.float64))
    n = len(ordered)
    k = int(round(exceedance_rate * n))
    if k < 10 or k >= n:
        raise ValueError(f"exceedance rate {exceedance_rate} leaves {k} of {n} pairs above u")
    u = float(ordered[n - k - 1])
    shape, scale = gpd_fit(ordered[n - k :] - u)
    zeta = k / n
    return {
        "u": u,
        "exceedance_rate": zeta,
        "shape": shape,
        "scale": scale,
        "exceedances": k,
        "pairs": n,
        "min_probability": 10.0**-extrapolate_decades / n,
        "body": body_points(ordered, u, zeta),
    }


def bootstrap_ratios(
    ordered: np.ndarray, block: dict, probabilities, draws: int, rng
) -> np.ndarray:
    """Sampling noise of a fitted tail: refit (draws times) on its exceedances resampled with
    replacement; at the score the fit gives for each probability p, the survival of each refit
    divided by p. Returns (draws, len(probabilities))."""
    from recognition.ml.runtime.openset import Tail

    fitted = Tail.from_block(1, block)
    scores = [fitted.score_at(p) for p in probabilities]
    exceedances = ordered[len(ordered) - block["exceedances"] :] - block["u"]
    ratios = np.empty((draws, len(probabilities)))
    for i in range(draws):
        shape, scale = gpd_fit(rng.choice(exceedances, len(exceedances), replace=True))
        refit = Tail.from_block(1, {**block, "shape": shape, "scale": scale})
        ratios[i] = [refit.survival(t) / p for t, p in zip(scores, probabilities, strict=True)]
    return ratios


def supported_floor(ordered: np.ndarray, block: dict, *, draws: int, factor: float, rng) -> float:
    """The smallest probability (quarter decades below the exceedance rate, never below the
    block's min_probability) at which the 5th-95th percentile band of bootstrap_ratios stays
    within [1/factor, factor]: how far the fit's thresholds are precise to that factor."""
    cap = block["min_probability"]
    grid = [block["exceedance_rate"] * 10.0 ** (-k / 4) for k in range(1, 64)]
    grid = [p for p in grid if p > cap] + [cap]
    ratios = bootstrap_ratios(ordered, block, grid, draws, rng)
    low, high = np.percentile(ratios, 5, axis=0), np.percentile(ratios, 95, axis=0)
    floor = grid[0]  # a quarter decade above the data's end is always trusted
    for p, lo, hi in zip(grid, low, high, strict=True):
        if lo < 1.0 / factor or hi > factor:
            break
        floor = p
    return floor


def body_points(ordered: np.ndarray, u: float, zeta: float) -> list[list[float]]:
    """(score, survival) pairs from the lowest score (survival 1) to (u, zeta), log-spaced in
    survival; survival(t) = share of scores >= t."""
    n = len(ordered)
    levels = np.concatenate([[1.0], np.geomspace(0.9, zeta, BODY_POINTS)[:-1]])
    points: list[list[float]] = []
    for level in levels:
        score = float(ordered[min(int(math.floor(n * (1.0 - level))), n - 1)])
        survival = float((n - np.searchsorted(ordered, score, side="left")) / n)
        if score < u and (not points or (score > points[-1][0] and survival < points[-1][1])):
            points.append([score, survival])
    points.append([u, zeta])
    return points


def genuine_quantiles(scores: np.ndarray, count: int = GENUINE_QUANTILES) -> list[float]:
    """Equally weighted quantiles (at (i + 0.5) / count) of genuine scores."""
    levels = (np.arange(count) + 0.5) / count
    return [round(float(q), 6) for q in np.quantile(np.asarray(scores, np.float64), levels)]


def empirical_survival(ordered: np.ndarray, score: float) -> float:
    """Share of the (sorted) scores >= score."""
    return float((len(ordered) - np.searchsorted(ordered, score, side="left")) / len(ordered))
