"""Fitting the openset block of metadata.json from labelled embeddings of unseen identities, and
the checks of the fit itself (threshold choice, extrapolation, identity halves)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from recognition.ml.runtime.openset import Tail
from recognition.ml.tools.openset_data import (
    Labelled,
    duplicate_identities,
    split_scores,
    strip_set_prefix,
)
from recognition.ml.tools.tail_fit import (
    bootstrap_ratios,
    empirical_survival,
    fit_tail,
    genuine_quantiles,
    supported_floor,
)

METHOD = (
    "Stranger scores: every photo of identities the model never saw as a probe against every "
    "disjoint K-photo template of every other identity (template = unit mean of the photos' "
    "unit embeddings; look-alike labels of one person excluded). Per K: empirical survival "
    "(body) down to the exceedance rate, above it a generalised Pareto tail fitted by maximum "
    "likelihood. 1:N threshold for N holders at FPIR f: the score a stranger exceeds against one "
    "holder with probability 1-(1-f)^(1/N); trusted down to min_probability."
)
FUSION = {
    "holder": "template: unit mean of the unit embeddings of the holder's photos",
    "frames": "mean-score: mean over the attempt's frames of the cosine with the template",
}


def look_alike_labels(train: Labelled, val: Labelled) -> tuple[list[dict], float]:
    """Identity pairs of train and val that are one person (duplicate_identities), with their
    set names: {"a": "train:7393", "b": "val:7392", "median": ...}."""
    found, cutoff = duplicate_identities([train, val])
    sets = {"0": "train", "1": "val"}
    named = [
        {
            "a": f"{sets[d['a'].split(':')[0]]}:{strip_set_prefix(d['a'])}",
            "b": f"{sets[d['b'].split(':')[0]]}:{strip_set_prefix(d['b'])}",
            "median": d["median"],
        }
        for d in found
    ]
    return named, cutoff


def excluded_within(duplicates: list[dict], set_name: str) -> frozenset:
    """Pairs of names of one set that duplicates lists as one person."""
    pairs = set()
    for d in duplicates:
        (sa, a), (sb, b) = d["a"].split(":", 1), d["b"].split(":", 1)
        if sa == sb == set_name:
            pairs.add(frozenset((a, b)))
    return frozenset(pairs)


def duplicates_of(duplicates: list[dict], set_name: str, other: str) -> set[str]:
    """Names in `set_name` that are the same person as some identity of `other`."""
    names = set()
    for d in duplicates:
        ends = [d["a"].split(":", 1), d["b"].split(":", 1)]
        for (s1, n1), (s2, _) in (ends, ends[::-1]):
            if s1 == set_name and s2 == other:
                names.add(n1)
    return names


def fit_block(
    train: Labelled,
    duplicates: list[dict],
    *,
    max_photos: int,
    exceedance_rate: float,
    extrapolate_decades: float,
    precision_factor: float,
    bootstrap_draws: int,
    seed: int,
) -> dict:
    excluded = excluded_within(duplicates, "train")
    tails, genuine = {}, {}
    for photos in range(1, max_photos + 1):
        rng = np.random.default_rng(seed + photos)
        strangers, same = split_scores(train, photos, "template", rng, excluded)
        ordered = np.sort(strangers)
        block = fit_tail(ordered, exceedance_rate, extrapolate_decades)
        block["min_probability"] = supported_floor(
            ordered, block, draws=bootstrap_draws, factor=precision_factor, rng=rng
        )
        tails[str(photos)] = block
        genuine[str(photos)] = {"pairs": int(len(same)), "quantiles": genuine_quantiles(same)}
    return {
        "version": 1,
        "method": METHOD,
        "fusion": dict(FUSION),
        "data": {
            "source": "celeba-dev/train: identities the model never saw",
            "identities": int(len(train.identities)),
            "photos": int(len(train.labels)),
            "photos_without_face": train.without_face,
            "look_alike_labels_excluded": sorted(" = ".join(sorted(p)) for p in excluded),
            "look_alike_labels_found": [f"{d['a']} = {d['b']}" for d in duplicates],
            "probes": "single photos (one frame)",
        },
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "exceedance_rate_target": exceedance_rate,
        "documentation": "docs/openset-calibration.md",
        "min_probability_rule": (
            f"smallest per-holder probability at which the 5-95 % band of {bootstrap_draws} "
            f"bootstrap refits stays within a factor {precision_factor:g} of the fitted "
            f"survival, never more than {extrapolate_decades:g} decade(s) below one pair in all"
        ),
        "tails": tails,
        "genuine": genuine,
    }


def threshold_stability(strangers: np.ndarray, rates=(1e-2, 3e-3, 1e-3, 3e-4)) -> list[dict]:
    """The fitted shape and the scores at 1e-5..1e-7 for several choices of u."""
    ordered = np.sort(strangers)
    rows = []
    for rate in rates:
        tail = Tail.from_block(1, fit_tail(ordered, rate, 1.0))
        row = {"exceedance_rate": rate, "u": round(tail.u, 5), "shape": round(tail.shape, 4)}
        for p in (1e-5, 1e-6, 1e-7):
            row[f"score_at_{p:.0e}"] = round(tail.score_at(p), 5)
            row[f"empirical_survival_there_{p:.0e}"] = empirical_survival(ordered, tail.score_at(p))
        rows.append(row)
    return rows


def extrapolation_check(strangers: np.ndarray, rate: float, share: float, rng) -> list[dict]:
    """Fit on a random `share` of the pairs, read scores one decade below that subsample's
    resolution, and compare with the survival of all pairs there."""
    ordered = np.sort(strangers)
    subsample = np.sort(rng.choice(ordered, int(len(ordered) * share), replace=False))
    tail = Tail.from_block(1, fit_tail(subsample, rate, 1.0))
    resolution = 1.0 / len(subsample)
    rows = []
    for factor in (100.0, 10.0, 1.0, 0.3, 0.1):
        p = factor * resolution
        score = tail.score_at(p)
        rows.append(
            {
                "predicted": p,
                "score": round(score, 5),
                "measured_all_pairs": empirical_survival(ordered, score),
                "pairs_above": int(round(empirical_survival(ordered, score) * len(ordered))),
            }
        )
    return rows


def identity_halves_check(
    train: Labelled, photos: int, rate: float, excluded: frozenset, seed: int
) -> list[dict]:
    """Fit on the identities of one half, measure on pairs of the other half (both halves'
    identities never in the fit): how well a tail carries over to other people."""
    rng = np.random.default_rng(seed)
    names = rng.permutation(train.identities)  # a new random half per seed
    half = set(names[: len(names) // 2])
    in_half = np.array([n in half for n in train.labels])
    fitted, _ = split_scores(train.subset(in_half), photos, "template", rng, excluded)
    held, _ = split_scores(train.subset(~in_half), photos, "template", rng, excluded)
    tail = Tail.from_block(photos, fit_tail(fitted, rate, 1.0))
    held = np.sort(held)
    rows = []
    for p in (1e-3, 1e-4, 1e-5, 1e-6):
        score = tail.score_at(p)
        rows.append(
            {
                "predicted": p,
                "score": round(score, 5),
                "measured_other_half": empirical_survival(held, score),
                "fit_pairs": int(len(fitted)),
                "other_half_pairs": int(len(held)),
            }
        )
    return rows


def bootstrap_check(strangers: np.ndarray, rate: float, draws: int, rng) -> list[dict]:
    """Sampling noise of the tail at a few probabilities (tail_fit.bootstrap_ratios): it says
    nothing about other populations (identity_halves_check does)."""
    ordered = np.sort(strangers)
    block = fit_tail(ordered, rate, 1.0)
    probabilities = (1e-5, 1e-6, 1e-7, block["min_probability"])
    ratios = bootstrap_ratios(ordered, block, probabilities, draws, rng)
    tail = Tail.from_block(1, block)
    return [
        {
            "predicted": p,
            "score": round(tail.score_at(p), 5),
            "ratio_p5": round(float(np.percentile(ratios[:, i], 5)), 3),
            "ratio_p50": round(float(np.percentile(ratios[:, i], 50)), 3),
            "ratio_p95": round(float(np.percentile(ratios[:, i], 95)), 3),
        }
        for i, p in enumerate(probabilities)
    ]
