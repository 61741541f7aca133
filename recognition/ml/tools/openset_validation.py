"""Predicted against measured FPIR: does a stranger's best score over N holders reach t(N, f)
as often as the calibration says?

Three checks, from the most real to the largest:
- real_gallery: the 50 real val holders, every train stranger photo.
- method_check: an all-synthetic population (FaceSpace) with a known truth. The tail is fitted
  exactly as for the real model, on a synthetic "train" of the real train's size (so the same
  number of pairs), then galleries of 1,000 / 10,000 synthetic holders are probed by 10^5+ fresh
  synthetic strangers: the test of the method (tail fit, extrapolation, max of N) at sizes and
  probabilities no real set here reaches.
- fill_check: the benchmark's set-up, real strangers against the real val holders plus
  synthetic fill. The fill grows from one half of the train identities, the strangers are the
  other half (a fill grown from a stranger's own photos would be its twin). Its realism table
  says how far the fill's stranger scores fall short of real holders' (so how far the measured
  FPIR must fall below the prediction for that reason alone).
"""

from __future__ import annotations

import numpy as np

from recognition.ml.runtime.fusion import unit
from recognition.ml.runtime.openset import (
    Tail,
    capacity,
    fpir_of,
    per_holder_probability,
    threshold_for,
)
from recognition.ml.tools.face_space import FaceSpace, covariances, pair_targets
from recognition.ml.tools.openset_data import Labelled, split_scores
from recognition.ml.tools.openset_sim import (
    ADMIT,
    REVIEW,
    Gallery,
    decide,
    enroll,
    synthetic_holders,
    tally_genuine,
    top2,
    with_fill,
)
from recognition.ml.tools.tail_fit import fit_tail

LEVELS = {"relaxed": 1e-2, "standard": 1e-3, "high": 1e-4}
QUANTILES = (0.5, 0.9, 0.99, 0.999, 0.9999)


def validate_real(cal, val, strangers, photos, rates=(1e-1, 3e-2, 1e-2, 3e-3, 1e-3)) -> list:
    """The real val gallery: share of strangers whose best score reaches t(50, f)."""
    gallery, _ = enroll(val, photos)
    best = top2(strangers.vectors, gallery, "template").best
    rows = []
    for rate in rates:
        t = threshold_for(cal, gallery.size, rate, photos)
        reached = int((best >= t.score).sum())
        rows.append(
            {
                "holders": gallery.size,
                "fpir_predicted": t.expected_fpir,
                "threshold": round(t.score, 5),
                "strangers": len(best),
                "reached": reached,
                "expected": round(t.expected_fpir * len(best), 1),
                "fpir_measured": reached / len(best),
            }
        )
    return rows


def fitted_space(bases: Labelled, target: Labelled, seed: int) -> FaceSpace:
    """FaceSpace grown from `bases` photos with their covariances, scales fitted to the real
    pairs of `target` (as benchmarks/gallery.py calibrate does)."""
    between, within = covariances(bases.vectors, bases.labels)
    space = FaceSpace(bases.vectors, between, within)
    return space.fit(pair_targets(target.vectors, target.labels), np.random.default_rng(seed))


def synthetic_set(space: FaceSpace, identities: int, photos_each: int, rng) -> Labelled:
    centres = space.identities(identities, rng)
    vectors = space.photos(np.repeat(centres, photos_each, axis=0), rng)
    labels = np.repeat(np.array([f"s{i}" for i in range(identities)]), photos_each)
    return Labelled(vectors, labels, labels.copy())


def best_scores(strangers: np.ndarray, gallery: Gallery, chunk: int = 2048) -> np.ndarray:
    holder_templates = unit(unit(gallery.photos).mean(axis=1))
    return np.concatenate(
        [
            (strangers[i : i + chunk] @ holder_templates.T).max(axis=1)
            for i in range(0, len(strangers), chunk)
        ]
    )


def method_check(
    space: FaceSpace, *, fit_identities, fit_photos, sizes, strangers, photos, exceedance_rate, seed
) -> dict:
    rng = np.random.default_rng(seed)
    fit_set = synthetic_set(space, fit_identities, fit_photos, rng)
    scores, _ = split_scores(fit_set, photos, "template", rng)
    tail = Tail.from_block(photos, fit_tail(scores, exceedance_rate, 1.0))
    rows = []
    for size in sizes:
        holders = synthetic_holders(space, size, photos, rng)
        gallery = Gallery(holders, np.full(size, ""))
        probes = space.photos(space.identities(strangers, rng), rng)
        best = best_scores(probes, gallery)
        for name, rate in LEVELS.items():
            wanted = per_holder_probability(size, rate)
            used = max(wanted, tail.min_probability)
            score = tail.score_at(used)
            reached = int((best >= score).sum())
            predicted = fpir_of(size, used)
            rows.append(
                {
                    "holders": size,
                    "level": name,
                    "per_holder_probability": used,
                    "beyond_calibration": wanted < tail.min_probability,
                    "threshold": round(score, 5),
                    "strangers": strangers,
                    "reached": reached,
                    "fpir_predicted": predicted,
                    "fpir_measured": reached / strangers,
                    "ratio": reached / strangers / predicted,
                }
            )
    return {
        "space_scales": space.scales,
        "fit": {
            "identities": fit_identities,
            "photos_each": fit_photos,
            "pairs": tail.pairs,
            "u": tail.u,
            "shape": tail.shape,
            "scale": tail.scale,
            "min_probability": tail.min_probability,
        },
        "rows": rows,
    }


def identity_halves(data: Labelled, seed: int) -> tuple[Labelled, Labelled]:
    names = np.random.default_rng(seed).permutation(data.identities)
    first = np.isin(data.labels, names[: len(names) // 2])
    return data.subset(first), data.subset(~first)


def tail_matched_space(source: Labelled, target: Labelled, photos: int, seed: int) -> FaceSpace:
    """A fill whose holders look to strangers as real holders do. fitted_space matches mean
    similarities only, and its identities, pulled towards the crowd's centre, are less similar
    to real strangers in the upper tail than real people are. Here base_weight and
    identity_scale are chosen on the source alone (one half of its identities as real holders
    and as the fill's bases, the other half as strangers) so that synthetic holders' scores
    against those strangers match the real holders' at the median, 99th and 99.9th
    percentiles."""
    space = fitted_space(source, target, seed)
    holders_half, strangers_half = identity_halves(source, seed + 1)
    real, _ = enroll(holders_half, photos)
    goal = _pair_quantiles(strangers_half.vectors, [real.photos], (0.5, 0.99, 0.999))
    candidate = FaceSpace(holders_half.vectors, space.between, space.within, list(space.scales))
    best, best_error = list(candidate.scales), np.inf
    for weight in np.arange(0.6, 1.0001, 0.025):
        for identity_scale in np.arange(0.0, 0.61, 0.1):
            candidate.scales = [float(weight), float(identity_scale), *space.scales[2:]]
            rng = np.random.default_rng(seed)  # common random numbers across the grid
            fill = synthetic_holders(candidate, 1000, photos, rng)
            got = _pair_quantiles(strangers_half.vectors, [fill], (0.5, 0.99, 0.999))
            error = float(np.sum((np.array(got) - np.array(goal)) ** 2))
            if error < best_error:
                best, best_error = list(candidate.scales), error
    space.scales = [round(float(x), 4) for x in best]
    return space


def _pair_quantiles(strangers: np.ndarray, holder_photos: list, levels) -> list[float]:
    scores = np.concatenate(
        [(strangers @ unit(unit(h).mean(axis=1)).T).ravel() for h in holder_photos]
    )
    return [round(float(np.quantile(scores, q)), 4) for q in levels]


def fill_check(
    cal, val, strangers: Labelled, *, sizes, galleries, photos, margin, seed, fill="tail-matched"
) -> dict:
    """Real strangers (half the train identities) and real val holders' other photos against
    galleries of the val holders plus synthetic fill grown from the other half: per size and
    level, predicted and measured FPIR (threshold reached; admitted under the margin rule) and
    the holders' outcomes."""
    fill_source, probes = identity_halves(strangers, seed)
    if fill == "tail-matched":
        space = tail_matched_space(fill_source, val, photos, seed)
    else:  # "mean-matched": benchmarks/gallery.py's calibration
        space = fitted_space(fill_source, val, seed)
    rng = np.random.default_rng(seed)
    real, genuine = enroll(val, photos)
    rows = []
    for size in sizes:
        runs = []
        for _ in range(galleries):
            gallery = with_fill(real, synthetic_holders(space, size - real.size, photos, rng))
            runs.append(
                (
                    gallery,
                    top2(probes.vectors, gallery, "template"),
                    top2(genuine.vectors, gallery, "template"),
                )
            )
        for name, rate in LEVELS.items():
            rows.append(_fill_row(cal, runs, genuine, size, name, rate, photos, margin))
    return {
        "fill": fill,
        "fill_from": f"{len(fill_source.identities)} train identities",
        "strangers": f"{len(probes.labels)} photos of the other {len(probes.identities)}",
        "space_scales": space.scales,
        "realism": realism(cal, val, fill_source, probes, space, photos, rng),
        "rows": rows,
    }


def _fill_row(cal, runs, genuine, size, name, rate, photos, margin) -> dict:
    admit, review = threshold_for(cal, size, rate, photos), threshold_for(cal, 1, rate, photos)
    trials = sum(len(s.best) for _, s, _ in runs)
    reached = sum(int((s.best >= admit.score).sum()) for _, s, _ in runs)
    strangers = [decide(s, admit.score, review.score, margin) for _, s, _ in runs]
    holders = [
        tally_genuine(decide(g, admit.score, review.score, margin), g, gallery, genuine.labels)
        for gallery, _, g in runs
    ]
    attempts = sum(h["probes"] for h in holders)
    predicted = capacity(cal, size, rate, photos, margin)
    return {
        "holders": size,
        "level": name,
        "galleries": len(runs),
        "stranger_trials": trials,
        "threshold": round(admit.score, 5),
        "beyond_calibration": admit.beyond_calibration,
        "fpir_predicted": admit.expected_fpir,
        "reached": reached,
        "fpir_measured": reached / trials,
        "ratio": reached / trials / admit.expected_fpir,
        "stranger_admitted": int(sum((d == ADMIT).sum() for d in strangers)),
        "stranger_review_measured": float(sum((d == REVIEW).sum() for d in strangers) / trials),
        "stranger_review_predicted": round(predicted.expected_stranger_review, 4),
        "genuine_trials": attempts,
        "tpir_measured": round(sum(h["admitted"] for h in holders) / attempts, 4),
        "tpir_predicted": round(predicted.expected_tpir, 4),
        "review_measured": round(
            sum(h["review_own_on_top"] + h["review_wrong_on_top"] for h in holders) / attempts, 4
        ),
        "review_predicted": round(predicted.expected_review, 4),
        "wrong_holder_admits": sum(h["admitted_wrong_holder"] for h in holders),
        "wrong_holder_predicted": round(predicted.expected_wrong_holder * attempts, 2),
    }


def realism(cal, val, fill_source, probes, space, photos, rng, galleries=20) -> dict:
    """Stranger scores against real holders (val; the fill source's own identities) beside
    those against synthetic holders, and the share reaching the 50-holder thresholds."""
    real, _ = enroll(val, photos)
    source, _ = enroll(fill_source, photos)
    fills = [
        Gallery(synthetic_holders(space, real.size, photos, rng), np.full(real.size, ""))
        for _ in range(galleries)
    ]

    def pair_quantiles(galleries_):
        return _pair_quantiles(probes.vectors, [g.photos for g in galleries_], QUANTILES)

    rows = []
    for rate in (1e-1, 1e-2, 1e-3):
        t = threshold_for(cal, real.size, rate, photos).score
        rows.append(
            {
                "fpir_predicted": rate,
                "threshold": round(t, 5),
                "real_val_gallery": float((best_scores(probes.vectors, real) >= t).mean()),
                "synthetic_galleries": float(
                    np.mean([(best_scores(probes.vectors, g) >= t).mean() for g in fills])
                ),
            }
        )
    return {
        "quantile_levels": QUANTILES,
        "strangers_vs_real_val_holders": pair_quantiles([real]),
        "strangers_vs_real_fill_source_holders": pair_quantiles([source]),
        "strangers_vs_synthetic_holders": pair_quantiles(fills),
        "fifty_holder_galleries": rows,
    }


def method_space(train: Labelled, val: Labelled, seed: int) -> FaceSpace:
    """The benchmark's FaceSpace: grown from train photos, scales fitted to val pairs."""
    return fitted_space(train, val, seed)
