"""The contrastive CNN as the distillation trainer's second student (--arch contrastive-cnn): a
tiny end-to-end run with real TensorFlow, its ONNX export (TensorFlow's 'same' padding, max and
global average pooling) equal to Keras, serving without TensorFlow, and its contrastive term."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.ml.serving import tensorflow_imported_while_serving

SIZE = 45  # odd: TensorFlow's 'same' padding is asymmetric at stride 2, the export must match


def random_crops(count: int, size: int = SIZE) -> np.ndarray:
    return (np.random.default_rng(1).random((count, size, size, 3)) * 255).astype(np.uint8)


def test_same_padding_puts_the_odd_pixel_at_the_end_as_tensorflow_does():
    from recognition.ml.training.onnx_export import same_pads

    assert same_pads((None, 64, 64, 1), (11, 11), (2, 2)) == [4, 4, 5, 5]
    assert same_pads((None, 45, 45, 96), (3, 3), (2, 2)) == [1, 1, 1, 1]
    assert same_pads((None, 16, 16, 96), (5, 5), (1, 1)) == [2, 2, 2, 2]
    assert same_pads((None, 8, 8, 96), (3, 3), (2, 2)) == [0, 0, 1, 1]


@pytest.mark.parametrize("size", [64, SIZE])
def test_the_onnx_export_of_the_contrastive_cnn_equals_keras_within_1e_4_cosine(size, tmp_path):
    from recognition.ml.training.networks import build_contrastive_cnn
    from recognition.ml.training.onnx_export import export_onnx, worst_cosine

    model = build_contrastive_cnn(input_size=size)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # statistics away from their init, so a mis-mapped BN shows
        if layer.name.startswith("bn"):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, variance.shape),
            ])  # fmt: skip
    path = export_onnx(model, tmp_path)
    assert worst_cosine(model, path, random_crops(6, size)) > 1.0 - 1e-4


def test_the_contrastive_term_enters_the_total_by_its_weight_alone():
    from recognition.ml.training.distill_losses import LossWeights, distillation_losses

    rng = np.random.default_rng(2)
    student = rng.normal(size=(8, 16)).astype(np.float32)
    student /= np.linalg.norm(student, axis=1, keepdims=True)
    labels = np.repeat(np.arange(4), 2).astype(np.int32)
    weights = LossWeights(cosine=0.0, relational=0.0, triplet=0.0, contrastive=0.5)
    parts = distillation_losses(student, student, labels, weights)
    assert float(parts["contrastive"]) > 0.1  # random vectors: positives far apart
    assert float(parts["total"]) == pytest.approx(0.5 * float(parts["contrastive"]), rel=1e-5)


def test_the_student_defaults_follow_the_arch_and_only_mobilenetv2_needs_a_backbone():
    from recognition.ml.training.distill import parse_args

    base = ["--data", "t", "--val", "v", "--out", "o"]
    cnn = parse_args([*base, "--arch", "contrastive-cnn"])
    assert (cnn.input_size, cnn.w_triplet, cnn.w_contrastive) == (64, 0.0, 0.1)
    mobile = parse_args([*base, "--backbone", "b", "--w-contrastive", "0.2"])
    assert (mobile.arch, mobile.input_size, mobile.w_triplet, mobile.w_contrastive) == (
        "mobilenetv2",
        112,
        0.1,
        0.2,
    )
    with pytest.raises(SystemExit):
        parse_args(base)  # mobilenetv2 without --backbone


@pytest.fixture(scope="module")
def distilled_cnn(tiny_dataset, yunet_model_path, tmp_path_factory):
    from recognition.ml.training.distill import distill

    out = tmp_path_factory.mktemp("distilled-cnn") / "artifact"
    run = distill([
        "--arch", "contrastive-cnn", "--data", str(tiny_dataset), "--val", str(tiny_dataset),
        "--out", str(out), "--input-size", str(SIZE), "--batch-p", "2", "--batch-k", "2",
        "--steps", "2", "--val-every", "1", "--quiet", "--yunet-model", str(yunet_model_path),
        "--no-calibrate", "--cache-dir", str(tmp_path_factory.mktemp("cache")),
    ])  # fmt: skip
    return {"out": out, "run": run}


def test_a_contrastive_cnn_run_trains_and_exports_a_contrastive_cnn_artifact(distilled_cnn):
    from recognition.ml.training.networks import build_contrastive_cnn, tensorflow

    out, run = distilled_cnn["out"], distilled_cnn["run"]
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["embedder"] == "contrastive-cnn" and metadata["input_size"] == SIZE
    assert "backbone_handle" not in metadata and metadata["onnx"] == "model.onnx"
    hyper = metadata["training"]["hyperparameters"]
    assert hyper["arch"] == "contrastive-cnn" and hyper["w_contrastive"] == 0.1
    history = json.loads((out / "history.json").read_text())
    assert [row["step"] for row in history] == [1, 2]
    assert history[-1]["train_contrastive"] > 0 and "val_auc" in history[-1]
    # The same seed builds the same initial weights: training moved them.
    tensorflow()[1].utils.set_random_seed(0)
    initial = build_contrastive_cnn(input_size=SIZE).get_layer("conv1").get_weights()[0]
    assert not np.allclose(run.model.get_layer("conv1").get_weights()[0], initial)


def test_the_contrastive_cnn_artifact_serves_on_onnxruntime_equal_to_keras(distilled_cnn):
    from recognition.ml.runtime.embedders.contrastive import ContrastiveCnnEmbedder

    embedder = ContrastiveCnnEmbedder(distilled_cnn["out"])
    assert embedder.runtime == "onnx" and embedder.input_size == SIZE
    crops = random_crops(4)
    model = distilled_cnn["run"].model
    expected = model(crops.astype(np.float32) / 255.0, training=False).numpy()
    served = embedder.embed(crops)
    assert float(np.min(np.sum(served * expected, axis=1))) > 1.0 - 1e-4


def test_serving_the_contrastive_cnn_onnx_artifact_never_imports_tensorflow(distilled_cnn):
    assert (
        tensorflow_imported_while_serving("contrastive-cnn", distilled_cnn["out"], SIZE) == "False"
    )
