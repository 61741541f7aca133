"""Training pipeline on a tiny slice of the shared data: crop cache, losses, both recipes, resume,
artifact round trip. Small batches and one or two steps keep it to well under a minute."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from recognition.ml.training import run_files as train_io
from recognition.ml.training.data import FaceSet, fixed_batches, load_faces, pk_batch

TRAIN_IDENTITIES = 4
VAL_IDENTITIES = 5  # 5 x 4 faces: 160 impostor pairs, enough for a FAR 1e-2 threshold
IMAGES = 3
VAL_IMAGES = 4


def link_subset(source, target, identities: int, images: int):
    target.mkdir()
    for folder in sorted(p for p in source.iterdir() if p.is_dir())[:identities]:
        (target / folder.name).mkdir()
        for path in sorted(folder.glob("*.jpg"))[:images]:
            (target / folder.name / path.name).symlink_to(path)
    return target


@pytest.fixture(scope="module")
def folders(tmp_path_factory, shared_dir, yunet_model_path, backbone_handle):
    root = tmp_path_factory.mktemp("train")
    dev = shared_dir / "datasets" / "celeba-dev"
    return {
        "train": link_subset(dev / "train", root / "train", TRAIN_IDENTITIES, IMAGES),
        "val": link_subset(dev / "val", root / "val", VAL_IDENTITIES, VAL_IMAGES),
        "cache": root / "cache",
        "root": root,
        "yunet": str(yunet_model_path),
        "backbone": backbone_handle,
    }


class NoDetector:
    """Fails if used: proves a load came from the cache."""

    name = "yunet"

    def __init__(self, model_path):
        self.model_path = model_path  # part of the cache key

    def detect(self, image):
        raise AssertionError("detector called; the cache was not used")


def common_args(folders, out, *extra):
    return [
        "--data", str(folders["train"]), "--val", str(folders["val"]), "--out", str(out),
        "--cache-dir", str(folders["cache"]), "--steps-per-epoch", "2", "--batch-p", "3",
        "--batch-k", "2", "--quiet", "--yunet-model", folders["yunet"],
        "--backbone", folders["backbone"], *extra,
    ]  # fmt: skip


def test_crops_are_cached_and_capped(folders, yunet, yunet_model_path):
    faces = load_faces(folders["train"], yunet, 100, 0.15, 2, folders["cache"], False)
    cached = NoDetector(yunet_model_path)
    again = load_faces(folders["train"], cached, 100, 0.15, 2, folders["cache"], False)
    assert faces.crops.shape == (TRAIN_IDENTITIES * 2, 100, 100, 3)
    assert faces.crops.dtype == np.uint8
    assert np.bincount(faces.labels).tolist() == [2] * TRAIN_IDENTITIES
    assert again.names == faces.names
    np.testing.assert_array_equal(again.crops, faces.crops)
    assert again.summary["images"] == TRAIN_IDENTITIES * 2
    assert again.paths == faces.paths and len(faces.paths) == len(faces)
    assert all(os.path.isfile(path) for path in faces.paths)


def test_identities_with_one_face_are_dropped(tmp_path, folders, yunet):
    data = tmp_path / "data"
    data.mkdir()
    for index, folder in enumerate(sorted(folders["train"].iterdir())[:3]):
        (data / folder.name).mkdir()
        for path in sorted(folder.iterdir())[: 1 if index == 0 else 2]:
            (data / folder.name / path.name).symlink_to(path.resolve())
    faces = load_faces(data, yunet, 64, 0.15, None, tmp_path / "cache", False)
    assert faces.identities == 2
    assert faces.summary["identities_dropped"] == 1


def test_pk_batches():
    labels = np.repeat(np.arange(5), 3)
    batch = pk_batch(labels, 3, 4, np.random.default_rng(0))
    assert len(batch) == 12
    assert sorted(np.bincount(labels[batch])[np.bincount(labels[batch]) > 0]) == [4, 4, 4]
    first, second = fixed_batches(labels, 2, 2, 3, 7), fixed_batches(labels, 2, 2, 3, 7)
    assert all((a == b).all() for a, b in zip(first, second, strict=True))


def test_losses_separate_easy_from_hard():
    from recognition.ml.training.networks import LOSSES, tensorflow

    tf, _ = tensorflow()
    labels = tf.constant([0, 0, 1, 1])
    good = tf.math.l2_normalize(tf.constant([[1, 0.1], [1, -0.1], [-1, 0.1], [-1, -0.1]]), 1)
    bad = tf.math.l2_normalize(tf.constant([[1, 0.1], [-1, 0.1], [1, -0.1], [-1, -0.1]]), 1)
    for name, loss in LOSSES.items():
        assert float(loss(good, labels)) < float(loss(bad, labels)), name


def fixed_batch_losses(model, loss_name, crops, labels, steps, lr):
    from recognition.ml.training.networks import LOSSES, make_train_step, tensorflow

    tf, keras = tensorflow()
    optimizer = keras.optimizers.Adam(learning_rate=lr)
    step = make_train_step(
        model, LOSSES[loss_name], optimizer, tf.random.Generator.from_seed(0), False
    )
    teacher = np.zeros((len(labels), 128), np.float32)
    return [float(step(crops, labels, teacher)) for _ in range(steps)]


def tiny_batch(folders, yunet, size):
    faces = load_faces(folders["train"], yunet, size, 0.15, 2, folders["cache"], False)
    return faces.crops, faces.labels


def test_contrastive_cnn_loss_falls_on_a_fixed_batch(folders, yunet):
    from recognition.ml.training.networks import build_contrastive_cnn, tensorflow

    tensorflow()[1].utils.set_random_seed(0)
    crops, labels = tiny_batch(folders, yunet, 100)
    losses = fixed_batch_losses(build_contrastive_cnn(), "contrastive", crops, labels, 8, 3e-3)
    assert losses[-1] < 0.7 * losses[0], losses


def test_contrastive_cnn_trains_resumes_and_reloads(folders, yunet_model_path):
    from recognition.ml.tools.cli import CliError
    from recognition.ml.training.networks import embed_crops
    from recognition.ml.training.train import train

    out = folders["root"] / "cnn"
    args = common_args(folders, out, "--arch", "contrastive-cnn")
    train([*args, "--epochs", "1"])
    with pytest.raises(CliError, match="--resume"):
        train([*args, "--epochs", "2"])
    run = train([*args, "--epochs", "2", "--resume"])
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert [row["optimizer_step"] for row in history] == [2, 4]  # continued, not restarted
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["embedder"] == "contrastive-cnn" and metadata["trained"] is True
    assert metadata["input_size"] == 100
    assert metadata["training"]["data"]["train"]["identities"] == TRAIN_IDENTITIES
    assert metadata["training"]["epochs_run"] == 2
    assert (out / "training.png").stat().st_size > 1000
    val = load_faces(
        folders["val"], NoDetector(yunet_model_path), 100, 0.15, None, folders["cache"], False
    )
    reloaded = train_io.load_model(out)
    np.testing.assert_allclose(
        embed_crops(reloaded, val.crops), embed_crops(run.model, val.crops), atol=1e-5
    )
    from recognition.ml.runtime.artifacts import read_metadata
    from recognition.ml.runtime.embedders.contrastive import ContrastiveCnnEmbedder

    read_metadata(out)  # validates: contrastive-cnn is a known artifact kind
    served = ContrastiveCnnEmbedder(out).embed(val.crops[:3])
    expected = embed_crops(run.model, val.crops[:3])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_mobilenet_learns_resumes_into_fine_tuning_and_serves(folders, yunet_model_path):
    from recognition.ml.runtime.embedders.mobilenet import MobileNetV2SiameseEmbedder
    from recognition.ml.training.train import Run, load_sets, parse_args, recipe_for, train

    out = folders["root"] / "mnv2"
    args = common_args(folders, out, "--arch", "mobilenetv2-triplet", "--epochs", "1")
    interrupted = parse_args([*args, "--freeze-backbone-only"])
    recipe = recipe_for(interrupted)
    first = Run(interrupted, recipe, out)
    train_set, val_set = load_sets(interrupted, recipe)
    first.fit(train_set, val_set)  # stopped after its checkpoint, before export
    assert not (out / "metadata.json").exists()
    # The head learns: on one fixed batch, frozen backbone, the loss falls within a few steps.
    crops, labels = train_set.crops[:6], train_set.labels[:6]
    losses = fixed_batch_losses(first.model, "batch-hard", crops, labels, 5, 1e-2)
    assert losses[-1] < 0.7 * losses[0], losses
    # Resumes into stage 2, with the distillation term, then calibrates on --val.
    run = train([*args, "--fine-tune-epochs", "1", "--resume", "--distill-weight", "0.5"])
    history = json.loads((out / "history.json").read_text())
    assert [(row["epoch"], row["stage"]) for row in history] == [(1, 1), (2, 2)]
    assert history[1]["lr"] == pytest.approx(history[0]["lr"] * 0.1)
    embedder = MobileNetV2SiameseEmbedder(out)  # the class, not the lru-cached load_embedder
    assert embedder.metadata["trained"] is True
    assert embedder.metadata["training"]["arch"] == "mobilenetv2-triplet"
    assert embedder.metadata["training"]["hyperparameters"]["distill_weight"] == 0.5
    # Calibration wrote a threshold table measured on the validation identities.
    assert set(embedder.metadata["thresholds"]) == {"1e-2"}
    report = json.loads((out / "evaluation.json").read_text())
    assert report["identities"] == VAL_IDENTITIES
    assert embedder.metadata["metrics"]["roc_auc"] == report["roc_auc"]
    val = load_faces(
        folders["val"], NoDetector(yunet_model_path), 224, 0.15, None, folders["cache"], False
    )
    expected = run.model(val.crops.astype(np.float32) / 255.0, training=False).numpy()
    np.testing.assert_allclose(embedder.embed(val.crops), expected, atol=1e-5)


def test_teacher_embeddings_are_dlib_descriptors_of_the_same_faces_and_cached(folders, yunet):
    from recognition.ml.runtime.embedders.dlib_resnet import DlibResNetEmbedder
    from recognition.ml.runtime.imageio import read_image_file
    from recognition.ml.training.teacher import teacher_cache_path, teacher_embeddings

    faces = load_faces(folders["train"], yunet, 100, 0.15, 2, folders["cache"], False)
    vectors = teacher_embeddings(faces, yunet, progress=False)
    assert vectors.shape == (len(faces), 128)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    dlib = DlibResNetEmbedder()
    image = read_image_file(faces.paths[3])
    direct = dlib.embed([dlib.align(image, yunet.detect(image)[0])])[0]
    np.testing.assert_allclose(vectors[3], direct, atol=1e-5)
    assert teacher_cache_path(faces).is_file()
    np.testing.assert_array_equal(teacher_embeddings(faces, None, progress=False), vectors)


def test_distillation_pulls_embeddings_towards_the_teacher():
    from recognition.ml.training.networks import distillation_loss, make_train_step, tensorflow

    tf, keras = tensorflow()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(16)]
    )
    unit = keras.Sequential([model, keras.layers.UnitNormalization(axis=1)])
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (6, 8, 8, 3), dtype=np.uint8)
    labels = np.array([0, 0, 1, 1, 2, 2], np.int32)
    teacher = rng.normal(size=(6, 16)).astype(np.float32)
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)

    def no_triplet(embeddings, labels):
        return tf.constant(0.0)

    optimizer = keras.optimizers.Adam(learning_rate=0.05)
    step = make_train_step(
        unit, no_triplet, optimizer, tf.random.Generator.from_seed(0), False, distill_weight=1.0
    )

    def distance():
        return float(distillation_loss(unit(crops.astype(np.float32) / 255.0), teacher))

    before = distance()
    for _ in range(20):
        step(crops, labels, teacher)
    assert distance() < 0.5 * before


def test_faceset_len():
    faces = FaceSet(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 1]), ["a", "b"])
    assert len(faces) == 2 and faces.identities == 2


def test_train_model_command_trains_registers_and_rejects_bad_options(folders, db):
    from django.core.management import CommandError, call_command

    from recognition.models import EmbeddingModel

    out = folders["root"] / "via-command"
    args = common_args(folders, out, "--arch", "contrastive-cnn", "--epochs", "1")
    call_command("train_model", "--register", "--", *args, stdout=io.StringIO())
    metadata = json.loads((out / "metadata.json").read_text())
    registered = EmbeddingModel.objects.get(version=metadata["version"])
    assert registered.kind == "contrastive-cnn" and not registered.is_active
    assert registered.thresholds == metadata["thresholds"] and registered.thresholds
    with pytest.raises(CommandError, match="--resume"):
        call_command("train_model", "--", *args)  # out already holds a checkpoint
