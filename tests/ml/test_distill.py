"""MobileNetV2 face student: rebuilt backbone, freezing, consistent views, distillation losses,
ONNX export and serving, and a tiny end-to-end run (budget stop, resume, export). Real TensorFlow,
tiny inputs (64 px) and one or two steps keep it short."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recognition.ml.training.views import Augmentation, ViewMaker, detect_sources
from tests.ml.serving import tensorflow_imported_while_serving

SIZE = 64


@pytest.fixture(scope="module")
def face_model(dynamic_backbone):
    from recognition.ml.training import mobileface

    model = mobileface.build_face_model(SIZE)
    mobileface.load_backbone_weights(model, dynamic_backbone)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # head statistics away from their init, so a mis-folded BN shows
        if layer.name in ("gdc_bn", "embedding_bn"):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, variance.shape),
            ])  # fmt: skip
    return model


def random_crops(count: int, size: int = SIZE) -> np.ndarray:
    return (np.random.default_rng(1).random((count, size, size, 3)) * 255).astype(np.uint8)


def test_the_rebuilt_backbone_equals_the_savedmodel_at_a_size_other_than_224(dynamic_backbone):
    from recognition.ml.keras_compat import tensorflow_modules
    from recognition.ml.training import mobileface

    tf = tensorflow_modules()[0]
    rebuilt = mobileface.build_backbone(SIZE)
    assert mobileface.load_backbone_weights(rebuilt, dynamic_backbone) == 104  # 52 conv + 52 BN
    images = random_crops(2).astype(np.float32) / 255.0
    reference = tf.saved_model.load(dynamic_backbone)(images).numpy()
    np.testing.assert_allclose(rebuilt(images, training=False).numpy(), reference, atol=1e-4)


def test_the_face_head_gives_unit_128_vectors_through_a_global_depthwise_conv(face_model):
    assert face_model.get_layer("gdc").kernel_size == (2, 2)  # 64 px -> a 2x2 final map
    vectors = face_model(random_crops(3).astype(np.float32) / 255.0, training=False).numpy()
    assert vectors.shape == (3, 128)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_freeze_until_freezes_the_stem_and_blocks_up_to_n_and_nothing_after(face_model):
    from recognition.ml.training.mobileface import block_of, freeze_until

    try:
        freeze_until(face_model, 10)
        trainable = {layer.name for layer in face_model.layers if layer.trainable}
        assert "stem" not in trainable and "b10_project" not in trainable
        assert {"b11_expand", "b17_project", "head", "gdc", "gdc_bn", "embedding_bn"} <= trainable
        assert all(block_of(name) > 10 for name in trainable)
        # The backbone's BatchNorm keeps ImageNet statistics unless asked otherwise.
        assert "b17_project_bn" not in trainable and "head_bn" not in trainable
        freeze_until(face_model, 10, backbone_batchnorm=True)
        assert face_model.get_layer("b17_project_bn").trainable
        assert not face_model.get_layer("b10_project_bn").trainable
        freeze_until(face_model, -1, backbone_batchnorm=True)
        assert all(layer.trainable for layer in face_model.layers)
    finally:
        freeze_until(face_model, -1, backbone_batchnorm=True)


def test_unknown_backbones_are_refused_by_layer_name(tmp_path, face_model):
    from recognition.ml.keras_compat import tensorflow_modules
    from recognition.ml.training.mobileface import load_backbone_weights

    tf, keras, _ = tensorflow_modules()
    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, name="stem")])
    tf.saved_model.save(other, str(tmp_path / "other"))
    with pytest.raises(ValueError, match="not the expected MobileNetV2"):
        load_backbone_weights(face_model, tmp_path / "other")


def test_distillation_losses_vanish_when_the_student_is_the_teacher_and_grow_otherwise():
    from recognition.ml.training.distill_losses import LossWeights, distillation_losses

    rng = np.random.default_rng(2)
    teacher = rng.normal(size=(8, 16)).astype(np.float32)
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    labels = np.repeat(np.arange(4), 2).astype(np.int32)
    same = distillation_losses(teacher, teacher, labels, LossWeights(triplet=0.0))
    assert float(same["cosine"]) == pytest.approx(0.0, abs=1e-6)
    assert float(same["relational"]) == pytest.approx(0.0, abs=1e-6)
    student = np.roll(teacher, 1, axis=0)  # every row another face's vector
    apart = distillation_losses(student, teacher, labels, LossWeights(triplet=0.0))
    assert float(apart["cosine"]) > 0.3 and float(apart["relational"]) > 0.01
    assert float(apart["total"]) == pytest.approx(
        float(apart["cosine"]) + 4.0 * float(apart["relational"]), rel=1e-5
    )


@pytest.fixture(scope="module")
def sources(tiny_dataset, yunet, tmp_path_factory):
    return detect_sources(tiny_dataset, yunet, tmp_path_factory.mktemp("views"), progress=False)


def test_an_unaugmented_view_is_the_plain_crop_and_the_plain_teacher_chip(sources, dlib_embedder):
    from recognition.ml.runtime.alignment import align_face
    from recognition.ml.runtime.imageio import read_image_file

    maker = ViewMaker(sources, dlib_embedder, SIZE, 0.15, Augmentation.none())
    crop, chip = maker.view(0, np.random.default_rng(0))
    image = read_image_file(sources.paths[0])
    np.testing.assert_array_equal(crop, align_face(image, sources.landmarks[0], SIZE, 0.15))
    np.testing.assert_array_equal(chip, dlib_embedder.align(image, sources.face(0)))


def test_a_flipped_view_cuts_the_mirrored_face_for_student_and_teacher(sources, dlib_embedder):
    flip_only = Augmentation(1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    plain = ViewMaker(sources, dlib_embedder, SIZE, 0.15, Augmentation.none())
    flipped = ViewMaker(sources, dlib_embedder, SIZE, 0.15, flip_only)
    crop, chip = plain.view(0, np.random.default_rng(0))
    mirrored_crop, mirrored_chip = flipped.view(0, np.random.default_rng(0))
    # The landmarks moved with the photo (eyes swapped), so the crop is the mirrored face.
    assert np.abs(mirrored_crop[:, ::-1].astype(int) - crop).mean() < 12
    assert (
        np.abs(mirrored_crop.astype(int) - crop).mean()
        > 2 * np.abs(mirrored_crop[:, ::-1].astype(int) - crop).mean()
    )
    vectors = dlib_embedder.embed(np.stack([chip, mirrored_chip]))
    assert float(vectors[0] @ vectors[1]) > 0.9  # the teacher sees the same person


def test_a_batch_gives_crops_and_unit_teacher_vectors_for_the_same_views(sources, dlib_embedder):
    maker = ViewMaker(sources, dlib_embedder, SIZE, 0.15, Augmentation())
    indices = np.array([0, 1, 2])
    crops, teacher, labels = maker.batch(indices, np.random.default_rng(3))
    assert crops.shape == (3, SIZE, SIZE, 3) and crops.dtype == np.uint8
    np.testing.assert_allclose(np.linalg.norm(teacher, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(labels, sources.labels[indices])


def test_a_morph_blends_whole_identity_groups_into_a_new_identity_for_both_networks():
    from recognition.ml.training.views import Morph, morph_identities

    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (6, 4, 4, 3)).astype(np.uint8)
    chips = rng.integers(0, 256, (6, 5, 5, 3)).astype(np.uint8)
    labels = np.array([7, 7, 8, 8, 9, 9], np.int32)
    morphed = morph_identities(crops, chips, labels, Morph(1.0, k=2), np.random.default_rng(1))
    new_crops, new_chips, new_labels = morphed
    np.testing.assert_array_equal(new_labels, [-1, -1, -2, -2, -3, -3])
    for group in range(3):
        rows = slice(2 * group, 2 * group + 2)
        # One weight and one partner per group, the same for the crops and the chips.
        fits = [
            (w, other)
            for other in range(3)
            if other != group
            for w in np.linspace(0.3, 0.7, 401)
            if np.abs(_blend(crops, rows, other, w) - new_crops[rows]).max() <= 1
            and np.abs(_blend(chips, rows, other, w) - new_chips[rows]).max() <= 1
        ]
        assert fits, f"group {group} is not a blend of itself and another group"


def _blend(images: np.ndarray, rows: slice, other: int, weight: float) -> np.ndarray:
    partner = images[2 * other : 2 * other + 2].astype(float)
    return images[rows].astype(float) * weight + partner * (1 - weight)


def test_no_morph_leaves_the_batch_as_drawn():
    from recognition.ml.training.views import Morph, morph_identities

    crops = np.zeros((4, 2, 2, 3), np.uint8)
    labels = np.array([1, 1, 2, 2], np.int32)
    _, _, kept = morph_identities(crops, crops, labels, Morph(0.0, k=2), np.random.default_rng(0))
    np.testing.assert_array_equal(kept, labels)


def test_a_morphed_batch_feeds_the_teacher_the_blended_chips(sources, dlib_embedder):
    from recognition.ml.training.views import Morph

    maker = ViewMaker(sources, dlib_embedder, SIZE, 0.15, Augmentation.none())
    indices = np.array([0, 1, 2, 3])
    plain_crops, plain, _ = maker.batch(indices, np.random.default_rng(3))
    crops, teacher, labels = maker.batch(indices, np.random.default_rng(3), Morph(1.0, k=2))
    assert (labels < 0).all() and not np.array_equal(crops, plain_crops)
    np.testing.assert_allclose(np.linalg.norm(teacher, axis=1), 1.0, atol=1e-5)
    # A morph is another face to the teacher: not exactly either source face.
    assert float(np.max(teacher @ plain.T)) < 0.9999


def test_the_onnx_export_equals_keras_within_1e_4_cosine(face_model, tmp_path):
    from recognition.ml.training.onnx_export import export_onnx, worst_cosine

    path = export_onnx(face_model, tmp_path)
    assert worst_cosine(face_model, path, random_crops(6)) > 1.0 - 1e-4


@pytest.fixture(scope="module")
def distilled(tiny_dataset, yunet_model_path, dynamic_backbone, tmp_path_factory):
    from recognition.ml.training.distill import distill

    out = tmp_path_factory.mktemp("distilled") / "artifact"
    args = [
        "--data", str(tiny_dataset), "--val", str(tiny_dataset), "--out", str(out),
        "--backbone", dynamic_backbone, "--input-size", str(SIZE), "--freeze-until", "16",
        "--batch-p", "2", "--batch-k", "2", "--steps", "4", "--val-every", "2", "--quiet",
        "--yunet-model", str(yunet_model_path), "--no-calibrate", "--flip-average",
        "--cache-dir", str(tmp_path_factory.mktemp("cache")),
    ]  # fmt: skip
    first = distill([*args, "--budget-minutes", "0.0001"])  # spent after one step
    stopped = json.loads((out / "metadata.json").read_text())["training"]
    resumed = distill([*args, "--resume"])
    return {"out": out, "args": args, "first": first, "stopped": stopped, "run": resumed}


def test_a_run_stops_on_its_budget_then_resumes_to_its_steps_and_exports(distilled):
    from recognition.ml.tools.cli import CliError
    from recognition.ml.training.distill import distill

    out = distilled["out"]
    assert distilled["stopped"]["stopped_by"] == "budget"
    assert distilled["stopped"]["steps_run"] == 1
    history = json.loads((out / "history.json").read_text())
    assert [row["step"] for row in history] == [1, 2, 4]  # continued from step 1, not restarted
    assert {"val_auc", "val_tar_at_far_1e-3", "train_cosine", "steps_per_second"} <= set(
        history[-1]
    )
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["training"]["stopped_by"] == "steps" and metadata["input_size"] == SIZE
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert len(state["teacher_centre"]) == 128  # kept across the resume
    assert metadata["training"]["hyperparameters"]["freeze_until"] == 16
    assert (out / "training.png").stat().st_size > 1000
    with pytest.raises(CliError, match="--resume"):
        distill(distilled["args"])  # out holds a checkpoint


def test_a_run_whose_yunet_file_is_missing_stops_instead_of_training_on_dlib_hog_crops(
    tiny_dataset, dynamic_backbone, tmp_path
):
    from recognition.ml.tools.cli import CliError
    from recognition.ml.training.distill import distill

    args = [
        "--data", str(tiny_dataset), "--val", str(tiny_dataset), "--out", str(tmp_path / "out"),
        "--backbone", dynamic_backbone, "--input-size", str(SIZE), "--steps", "1", "--quiet",
        "--yunet-model", str(tmp_path / "no-such-yunet.onnx"), "--no-calibrate",
    ]  # fmt: skip
    with pytest.raises(CliError, match="--detector dlib-hog to train on dlib-hog's crops"):
        distill(args)
    assert not (tmp_path / "out" / "checkpoint").exists()


def test_the_distilled_artifact_serves_on_onnxruntime_equal_to_keras_with_the_mirror_view(
    distilled,
):
    from recognition.ml.runtime.embedders.mobilenet import MobileNetV2SiameseEmbedder

    embedder = MobileNetV2SiameseEmbedder(distilled["out"])
    assert embedder.runtime == "onnx" and embedder.input_size == SIZE
    assert embedder.flip_average  # --flip-average: each face is embedded with its mirror
    crops = random_crops(4)
    model = distilled["run"].model
    views = [
        model(c.astype(np.float32) / 255.0, training=False).numpy()
        for c in (crops, crops[:, :, ::-1])
    ]
    expected = views[0] + views[1]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(embedder.embed(crops), expected, atol=1e-4)


def test_serving_the_onnx_artifact_never_imports_tensorflow(distilled):
    assert (
        tensorflow_imported_while_serving("mobilenetv2-siamese", distilled["out"], SIZE) == "False"
    )


def test_the_teacher_is_centred_on_its_mean_direction_and_renormalised():
    from recognition.ml.training.distill import centred

    rng = np.random.default_rng(4)
    common = np.ones(16, np.float32) * 3.0  # a dominant shared direction, as dlib's has
    teacher = common + rng.normal(size=(32, 16)).astype(np.float32)
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    raw = teacher @ teacher.T
    spread = centred(teacher, teacher.mean(axis=0))
    np.testing.assert_allclose(np.linalg.norm(spread, axis=1), 1.0, atol=1e-5)
    off = ~np.eye(32, dtype=bool)
    assert raw[off].mean() > 0.7 and abs((spread @ spread.T)[off].mean()) < 0.1
    assert centred(teacher, None) is teacher
