import numpy as np
import pytest

from recognition.ml.tools.metrics import (
    equal_error_rate,
    pair_scores,
    rank1_identification,
    roc_auc,
    roc_curve,
    tar_at_far,
)


def test_pairs_split_into_genuine_and_impostor():
    embeddings = np.array([[1, 0], [1, 0], [0, 1]], float)
    genuine, impostor = pair_scores(embeddings, np.array(["a", "a", "b"]))
    assert genuine.tolist() == [1.0] and sorted(impostor.tolist()) == [0.0, 0.0]


def test_auc_counts_ties_as_half_and_matches_brute_force():
    rng = np.random.default_rng(1)
    genuine, impostor = rng.normal(1, 1, 300).round(1), rng.normal(0, 1, 500).round(1)
    brute = np.mean((genuine[:, None] > impostor) + 0.5 * (genuine[:, None] == impostor))
    assert roc_auc(genuine, impostor) == pytest.approx(brute)


def test_perfect_separation_gives_auc_one_and_zero_eer():
    genuine, impostor = np.array([0.9, 0.8]), np.array([0.1, 0.2, 0.3])
    assert roc_auc(genuine, impostor) == 1.0
    assert equal_error_rate(roc_curve(genuine, impostor)) == pytest.approx(0.0)


def test_the_threshold_for_a_far_lets_through_no_more_impostors_than_allowed():
    impostor = np.linspace(0, 1, 1000)
    genuine = np.array([0.5, 0.995, 0.9995])
    row = tar_at_far(genuine, impostor, 1e-2)
    assert row["far_measured"] <= 1e-2
    assert np.sum(impostor >= row["threshold"]) == 10
    assert row["tar"] == pytest.approx(2 / 3)


def test_rank1_uses_the_first_image_of_each_identity_as_gallery():
    embeddings = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.2, 0.8], [0.8, 0.6]])
    labels = np.array(["a", "b", "a", "b", "b"])
    result = rank1_identification(embeddings, labels)
    assert result["gallery"] == 2 and result["probes"] == 3
    assert result["rank1"] == pytest.approx(2 / 3)  # the last probe is nearer a's gallery photo
