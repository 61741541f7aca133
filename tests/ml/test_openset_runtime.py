"""1:N thresholds by gallery size from the openset block: round trips, the validity clamp, the
capacity figures, and the shipped dlib-resnet calibration."""

import copy
from pathlib import Path

import numpy as np
import pytest

from recognition.ml.runtime.artifacts import ArtifactError, read_metadata, write_metadata
from recognition.ml.runtime.openset import (
    CalibrationError,
    OpenSetCalibration,
    beyond_calibration,
    capacity,
    expected_fpir,
    largest_sensible_gallery,
    one_to_one_threshold,
    per_holder_probability,
    threshold_for,
)
from recognition.ml.tools.tail_fit import fit_tail, genuine_quantiles

SHIPPED = Path(__file__).resolve().parents[2] / "recognition/artifacts/dlib-resnet"
LEVELS = (1e-2, 1e-3, 1e-4)


@pytest.fixture(scope="module")
def synthetic_block():
    """A calibration fitted on normal stranger scores (one and two photos) with genuine scores
    well above them."""
    rng = np.random.default_rng(0)
    block = {"version": 1, "method": "test", "fusion": {"holder": "template"}}
    block["tails"], block["genuine"] = {}, {}
    for photos, mean in ((1, 0.83), (2, 0.84)):
        block["tails"][str(photos)] = fit_tail(rng.normal(mean, 0.04, 2_000_000), 1e-3, 1.0)
        block["genuine"][str(photos)] = {
            "pairs": 10_000,
            "quantiles": genuine_quantiles(rng.normal(0.98, 0.01, 10_000)),
        }
    return block


@pytest.fixture(scope="module")
def cal(synthetic_block):
    return OpenSetCalibration.from_block(synthetic_block)


@pytest.fixture(scope="module")
def shipped():
    return OpenSetCalibration.from_metadata(read_metadata(SHIPPED))


@pytest.mark.parametrize("holders", [1, 50, 1000])
@pytest.mark.parametrize("level", LEVELS)
def test_threshold_for_and_expected_fpir_round_trip(cal, holders, level):
    t = threshold_for(cal, holders, level, photos=2)
    assert not t.beyond_calibration
    assert t.expected_fpir == pytest.approx(level, rel=1e-9)
    assert expected_fpir(cal, holders, t.score, photos=2) == pytest.approx(level, rel=1e-6)


def test_each_holder_gets_an_equal_share_of_the_level():
    p = per_holder_probability(1000, 1e-3)
    assert 1 - (1 - p) ** 1000 == pytest.approx(1e-3, rel=1e-12)
    assert p == pytest.approx(1e-6, rel=1e-3)


def test_thresholds_rise_with_holders_photos_and_strictness(cal):
    by_size = [threshold_for(cal, n, 1e-3, 2).score for n in (1, 10, 100, 1000, 10_000)]
    assert by_size == sorted(by_size) and len(set(by_size)) == len(by_size)
    by_level = [threshold_for(cal, 100, level, 2).score for level in LEVELS]
    assert by_level == sorted(by_level)
    assert threshold_for(cal, 100, 1e-3, 2).score > threshold_for(cal, 100, 1e-3, 1).score


def test_one_to_one_is_the_gallery_of_one(cal):
    assert one_to_one_threshold(cal, 1e-3, 2) == threshold_for(cal, 1, 1e-3, 2)


def test_beyond_the_calibration_the_threshold_is_clamped_and_flagged(cal):
    tail = cal.tail(2)
    t = threshold_for(cal, 10**9, 1e-4, photos=2)
    assert t.beyond_calibration
    assert t.per_holder_probability == tail.min_probability
    assert t.score == pytest.approx(tail.score_at(tail.min_probability))
    assert t.expected_fpir > 1e-4  # what the clamped threshold is calibrated for, not the level
    assert beyond_calibration(cal, t.score + 0.01, photos=2)
    # a score above the floor's is reported at the floor, never extrapolated below it
    assert expected_fpir(cal, 10**9, t.score + 0.01, photos=2) == pytest.approx(t.expected_fpir)


def test_more_photos_than_calibrated_use_the_largest_calibrated_count(cal):
    assert threshold_for(cal, 50, 1e-3, photos=7).score == threshold_for(cal, 50, 1e-3, 2).score
    with pytest.raises(ValueError):
        threshold_for(cal, 50, 1e-3, photos=0)


def test_capacity_falls_with_the_number_of_holders(cal):
    rows = [capacity(cal, n, 1e-3, photos=2, margin=0.01) for n in (10, 1000, 100_000)]
    tpirs = [c.expected_tpir for c in rows]
    assert tpirs == sorted(tpirs, reverse=True)
    for c in rows:
        assert 0 <= c.expected_review <= 1 and 0 <= c.expected_tpir <= 1
        assert c.expected_tpir + c.expected_review + c.expected_wrong_holder <= 1 + 1e-9
    assert rows[-1].expected_stranger_review > rows[0].expected_stranger_review


def test_the_largest_sensible_gallery_is_where_tpir_crosses_one_half(cal):
    largest = largest_sensible_gallery(cal, 1e-3, photos=2, margin=0.01)
    assert 1 < largest < 10**7
    assert capacity(cal, largest, 1e-3, 2, 0.01).expected_tpir >= 0.5
    assert capacity(cal, largest + 1, 1e-3, 2, 0.01).expected_tpir < 0.5


def test_inconsistent_blocks_are_refused(synthetic_block):
    broken = copy.deepcopy(synthetic_block)
    broken["tails"]["2"]["min_probability"] = 0.5
    with pytest.raises(CalibrationError, match="inconsistent"):
        OpenSetCalibration.from_block(broken)
    gap = copy.deepcopy(synthetic_block)
    gap["tails"]["3"] = gap["tails"].pop("2")
    gap["genuine"]["3"] = gap["genuine"].pop("2")
    with pytest.raises(CalibrationError, match="every photo count"):
        OpenSetCalibration.from_block(gap)


def test_a_model_without_calibration_names_the_command_that_makes_one(tmp_path):
    metadata = read_metadata(SHIPPED)
    del metadata["openset"]
    with pytest.raises(ArtifactError, match="calibrate_openset fit"):
        OpenSetCalibration.from_metadata(metadata)
    with pytest.raises(ArtifactError, match="openset"):
        write_metadata(tmp_path, metadata | {"openset": {"tails": {}}})


def test_the_shipped_calibration_covers_one_to_five_photos_with_template_fusion(shipped):
    assert shipped.max_photos == 5
    assert shipped.fusion["holder"].startswith("template")
    for photos in range(1, 6):
        tail = shipped.tail(photos)
        assert tail.pairs > 2_000_000 and tail.shape < 0  # bounded, like cosine similarities
        assert tail.min_probability >= 0.1 / tail.pairs


def test_the_shipped_one_to_one_thresholds_agree_with_the_measured_far_table(shipped):
    """One photo, N = 1: the fitted tail (train identities) against the FAR table measured on
    the val identities by recognition.ml.tools.evaluate."""
    table = read_metadata(SHIPPED)["thresholds"]
    for key in ("1e-2", "1e-3", "1e-4"):
        assert one_to_one_threshold(shipped, float(key), 1).score == pytest.approx(
            table[key], abs=0.004
        )
