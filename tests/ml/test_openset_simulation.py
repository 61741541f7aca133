"""The offline gate simulation: decision rule, tallies, enrollment split, and the
calibrate_openset command end to end on synthetic embeddings."""

import json

import numpy as np
import pytest

from recognition.ml.runtime.artifacts import read_metadata, write_metadata
from recognition.ml.runtime.embedders.dlib_resnet import default_metadata
from recognition.ml.runtime.openset import OpenSetCalibration, threshold_for
from recognition.ml.tools.face_space import FaceSpace
from recognition.ml.tools.openset_data import Labelled, duplicate_identities, split_scores
from recognition.ml.tools.openset_sim import (
    ADMIT,
    DENY,
    REVIEW,
    Gallery,
    Top2,
    decide,
    enroll,
    tally_genuine,
    tally_strangers,
)


def test_admit_needs_the_threshold_and_the_margin_review_the_floor():
    scores = np.array(
        [
            [0.97, 0.90, 0.80],  # clear best above the admit threshold
            [0.97, 0.965, 0.80],  # above it, but the runner-up is too close
            [0.95, 0.90, 0.80],  # between the review floor and the admit threshold
            [0.92, 0.90, 0.80],  # below the floor
        ]
    )
    top = Top2.of(scores)
    assert decide(top, admit=0.96, review=0.94, margin=0.01).tolist() == [
        ADMIT,
        REVIEW,
        REVIEW,
        DENY,
    ]
    assert top.holder.tolist() == [0, 0, 0, 0]
    assert Top2.of(scores[:, :1]).second.tolist() == [-np.inf] * 4


def test_tallies_count_wrong_holders_and_reviews_apart():
    gallery = Gallery(np.zeros((2, 1, 3)), np.array(["ann", "bob"]))
    top = Top2(np.zeros(4), np.zeros(4), np.array([0, 1, 0, 1]))
    decisions = np.array([ADMIT, ADMIT, REVIEW, DENY])
    counts = tally_genuine(decisions, top, gallery, np.array(["ann", "ann", "bob", "bob"]))
    assert counts["admitted"] == 1 and counts["admitted_wrong_holder"] == 1
    assert counts["review_wrong_on_top"] == 1 and counts["denied"] == 1
    assert tally_strangers(decisions)["fpir"] == 0.5


def test_enrollment_takes_the_first_photos_in_path_order_and_probes_the_rest():
    vectors = np.eye(5, 4, dtype=np.float32)
    data = Labelled(
        vectors, np.array(["a", "a", "a", "b", "c"]), np.array(["a/3", "a/1", "a/2", "b/1", "c/1"])
    )
    gallery, probes = enroll(data, 2)
    assert gallery.labels.tolist() == ["a"]
    assert gallery.photos[0] == pytest.approx(vectors[[1, 2]])
    assert probes.paths.tolist() == ["a/3"]


def synthetic_population(identities: int, photos: int, seed: int) -> Labelled:
    """Unit embeddings of `identities` people with `photos` photos each (a narrow cone, like
    dlib-resnet's: impostor cosines around 0.85)."""
    rng = np.random.default_rng(seed)
    d = 32
    base = rng.normal(size=(4 * identities, d)).astype(np.float32) * 0.3 + 1.0
    space = FaceSpace(
        base / np.linalg.norm(base, axis=1, keepdims=True), np.eye(d) * 0.05, np.eye(d) * 0.03
    )
    space.scales = [1.0, 1.0, 1.0, 0.2]
    vectors = space.photos(np.repeat(space.identities(identities, rng), photos, axis=0), rng)
    labels = np.repeat([f"{seed}{i:03d}" for i in range(identities)], photos)
    paths = np.array([f"/x/{label}/{k}.jpg" for k, label in enumerate(labels)])
    return Labelled(vectors, labels, paths)


def test_one_person_under_two_labels_is_found_and_kept_out_of_the_strangers():
    data = synthetic_population(20, 8, seed=1)
    labels = data.labels.astype(object)
    person = labels[0]
    labels[:4] = "the-same-person-again"  # half of one person's photos under another label
    data = Labelled(data.vectors, labels.astype(str), data.paths)
    found, _ = duplicate_identities([data])
    assert [{d["a"], d["b"]} for d in found] == [{"0:" + person, "0:the-same-person-again"}]
    pair = frozenset((person, "the-same-person-again"))
    strangers, genuine = split_scores(data, 1, "template", np.random.default_rng(0), {pair})
    n = len(data.labels)
    same = 19 * 8 * 7 // 2 + 2 * (4 * 3 // 2)
    assert len(genuine) == same
    assert len(strangers) == n * (n - 1) // 2 - same - 4 * 4


def write_npz(path, data: Labelled):
    np.savez(
        path, paths=data.paths, embeddings=data.vectors, detected=np.ones(len(data.labels), bool)
    )


@pytest.mark.slow
def test_the_calibration_command_fits_writes_and_simulates(tmp_path):
    from recognition.ml.tools.calibrate_openset import main

    write_npz(tmp_path / "train.npz", synthetic_population(60, 10, seed=2))
    write_npz(tmp_path / "val.npz", synthetic_population(15, 6, seed=3))
    model = tmp_path / "model"
    write_metadata(model, default_metadata())
    common = ["--train", str(tmp_path / "train.npz"), "--val", str(tmp_path / "val.npz")]
    main(
        [
            "fit",
            *common,
            "--model",
            str(model),
            "--write",
            "--max-photos",
            "2",
            "--exceedance-rate",
            "1e-2",
            "--bootstrap",
            "20",
            "--out",
            str(tmp_path / "fit.json"),
        ]
    )
    cal = OpenSetCalibration.from_metadata(read_metadata(model))
    assert sorted(cal.tails) == [1, 2]
    assert threshold_for(cal, 15, 1e-2, 2).score > threshold_for(cal, 1, 1e-2, 2).score
    main(["simulate", *common, "--model", str(model), "--out", str(tmp_path / "sim.json")])
    report = json.loads((tmp_path / "sim.json").read_text())
    standard = report["target"]["after"]["standard"]
    assert standard["strangers"]["probes"] == 600 and standard["genuine"]["probes"] == 60
    main(
        [
            "capacity",
            "--model",
            str(model),
            "--sizes",
            "10",
            "100",
            "--out",
            str(tmp_path / "c.json"),
        ]
    )
    rows = json.loads((tmp_path / "c.json").read_text())["table"]
    assert [r["holders"] for r in rows] == [10] * 3 + [100] * 3
