"""The open-set calibration recovers known tails from synthetic score distributions."""

import numpy as np
import pytest

from recognition.ml.runtime.openset import Tail
from recognition.ml.tools.tail_fit import (
    body_points,
    empirical_survival,
    fit_tail,
    genuine_quantiles,
    gpd_fit,
)


def gpd_sample(rng, n, shape, scale):
    uniform = rng.random(n)
    return scale / shape * ((1.0 - uniform) ** -shape - 1.0)


@pytest.mark.parametrize("shape, scale", [(-0.09, 0.006), (-0.3, 0.02), (0.15, 1.0)])
def test_the_maximum_likelihood_fit_recovers_a_generalised_pareto_sample(shape, scale):
    rng = np.random.default_rng(7)
    fitted_shape, fitted_scale = gpd_fit(gpd_sample(rng, 20_000, shape, scale))
    assert fitted_shape == pytest.approx(shape, abs=0.03)
    assert fitted_scale == pytest.approx(scale, rel=0.05)


def spliced_scores(rng, n, u, zeta, shape, scale):
    """Scores whose top `zeta` share is exactly u + GPD(shape, scale), with a normal body below
    u: the survival above u is known in closed form."""
    tail_count = int(n * zeta)
    body = rng.normal(0.83, 0.04, 4 * n)
    body = body[body < u][: n - tail_count]
    return np.concatenate([body, u + gpd_sample(rng, tail_count, shape, scale)])


def test_a_spliced_tail_is_recovered_down_to_one_decade_below_the_data():
    """6,000 exceedances, as many as the shipped fit has: within the data the survival is
    recovered within 25 %; extrapolated to the floor (one decade below one pair in all) the
    statistical precision of a fit this size is about a factor 2.5 (seeds 0-7: 0.73-2.51)."""
    rng = np.random.default_rng(0)
    u, zeta, shape, scale = 0.93, 2e-3, -0.09, 0.006
    scores = spliced_scores(rng, 3_000_000, u, zeta, shape, scale)
    block = fit_tail(scores, exceedance_rate=zeta, extrapolate_decades=1.0)
    tail = Tail.from_block(1, block)
    assert block["min_probability"] == pytest.approx(0.1 / len(scores))
    assert tail.shape == pytest.approx(shape, abs=3 * (1 + shape) / np.sqrt(block["exceedances"]))
    for probability in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, tail.min_probability):
        score = tail.score_at(probability)
        truth = zeta * (1.0 + shape * (score - u) / scale) ** (-1.0 / shape)
        if probability >= 1e-5:
            assert truth == pytest.approx(probability, rel=0.25), probability
        else:
            assert 1 / 2.5 <= truth / probability <= 2.5, probability


def test_a_tail_in_the_domain_of_attraction_is_followed_within_the_data():
    """1 - W/2 with W Kumaraswamy(6, 4): not a GPD anywhere, bounded like cosine scores, with
    survival 1 - (1 - (2(1 - t))**6)**4."""
    rng = np.random.default_rng(3)
    uniform = rng.random(2_000_000)
    scores = 1.0 - 0.5 * (1.0 - (1.0 - uniform) ** (1 / 4)) ** (1 / 6)
    tail = Tail.from_block(1, fit_tail(scores, 1e-3, 1.0))
    for probability in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
        score = tail.score_at(probability)
        truth = 1.0 - (1.0 - (2.0 * (1.0 - score)) ** 6) ** 4
        assert truth == pytest.approx(probability, rel=0.5), probability


def test_the_body_follows_the_empirical_survival_and_ends_at_the_threshold():
    rng = np.random.default_rng(5)
    ordered = np.sort(rng.normal(0.83, 0.04, 200_000))
    block = fit_tail(ordered, 1e-2, 1.0)
    tail = Tail.from_block(1, block)
    assert block["body"][-1] == [block["u"], block["exceedance_rate"]]
    for level in (0.5, 0.1, 0.03):
        score = float(np.quantile(ordered, 1.0 - level))
        assert tail.survival(score) == pytest.approx(empirical_survival(ordered, score), rel=0.05)


def test_body_points_rise_in_score_and_fall_in_survival():
    ordered = np.sort(np.random.default_rng(1).normal(size=50_000))
    points = np.array(body_points(ordered, float(ordered[-51]), 50 / 50_000))
    assert np.all(np.diff(points[:, 0]) > 0) and np.all(np.diff(points[:, 1]) < 0)


def test_genuine_quantiles_are_equally_weighted_and_sorted():
    values = genuine_quantiles(np.linspace(0.0, 1.0, 10_001), count=4)
    assert values == pytest.approx([0.125, 0.375, 0.625, 0.875], abs=1e-4)


def test_too_few_exceedances_are_refused():
    with pytest.raises(ValueError, match="exceedance rate"):
        fit_tail(np.random.default_rng(0).random(500), 1e-3, 1.0)
