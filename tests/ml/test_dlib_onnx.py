"""dlib's ResNet face descriptor converted to ONNX (recognition.ml.dlib.onnx) against dlib."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from recognition.ml.dlib import onnx as dlib_onnx
from recognition.ml.dlib.models import dlib_model_path
from recognition.ml.dlib.onnx import DlibModelFormatError, DlibResNetOnnx, dlib_resnet_weights


@pytest.fixture(scope="module")
def dat_path() -> str:
    return dlib_model_path("dlib_face_recognition_resnet_model_v1")


@pytest.fixture(scope="module")
def onnx_model(dat_path, tmp_path_factory) -> DlibResNetOnnx:
    return DlibResNetOnnx(dat_path, tmp_path_factory.mktemp("onnx-cache"), threads=1)


@pytest.fixture(scope="module")
def dlib_descriptor(dat_path):
    """dlib's raw (unnormalised) descriptor, as compute_face_descriptor returns it."""
    import dlib

    model = dlib.face_recognition_model_v1(dat_path)
    return lambda chips: np.array(model.compute_face_descriptor(list(chips)), dtype=np.float32)


@pytest.fixture(scope="module")
def aligned_chips(val_photos, yunet, dlib_embedder) -> np.ndarray:
    """Chips cut exactly as production does: YuNet box, dlib 5-point alignment, get_face_chip."""
    from recognition.ml.runtime.imageio import read_image_file

    chips = []
    for paths in val_photos.values():
        for path in paths:
            image = read_image_file(path)
            chips.append(dlib_embedder.align(image, yunet.detect(image)[0]))
    return np.stack(chips)


@pytest.fixture(scope="module")
def resized_chips(val_photos) -> np.ndarray:
    """Whole photos squeezed to 150x150: not aligned, but real pixel statistics."""
    paths = [path for pair in val_photos.values() for path in pair]
    return np.stack(
        [cv2.cvtColor(cv2.resize(cv2.imread(str(p)), (150, 150)), cv2.COLOR_BGR2RGB) for p in paths]
    )


def assert_equivalent(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-4
    got64, expected64 = got.astype(np.float64), expected.astype(np.float64)
    cosine = (
        np.sum(got64 * expected64, 1)
        / np.linalg.norm(got64, axis=1)
        / np.linalg.norm(expected64, axis=1)
    )
    assert cosine.min() > 0.99999


def test_onnx_descriptor_equals_dlibs_on_face_chips(onnx_model, dlib_descriptor, aligned_chips):
    assert_equivalent(onnx_model.embed(aligned_chips), dlib_descriptor(aligned_chips))


def test_onnx_descriptor_equals_dlibs_on_unaligned_photos_and_noise(
    onnx_model, dlib_descriptor, resized_chips
):
    noise = np.random.default_rng(0).integers(0, 256, (2, 150, 150, 3), dtype=np.uint8)
    chips = np.concatenate([resized_chips, noise])
    assert_equivalent(onnx_model.embed(chips), dlib_descriptor(chips))


def test_a_batch_embeds_like_its_chips_one_by_one(onnx_model, aligned_chips):
    whole = onnx_model.embed(aligned_chips)
    singles = np.concatenate([onnx_model.embed(chip) for chip in aligned_chips])
    assert np.allclose(whole, singles, atol=1e-5)
    assert onnx_model.embed(aligned_chips[:0]).shape == (0, 128)


def test_chips_of_the_wrong_size_or_type_are_refused(onnx_model):
    with pytest.raises(ValueError, match="uint8 chips"):
        onnx_model.embed(np.zeros((1, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8 chips"):
        onnx_model.embed(np.zeros((1, 150, 150, 3), np.float32))


def test_the_parser_reads_the_whole_resnet(dat_path):
    layers = dlib_resnet_weights(dat_path)
    kinds = [layer["kind"] for layer in layers]
    assert kinds[0] == "input" and kinds[-1] == "fc"
    assert (
        kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("add_prev") == 14
    )
    assert layers[1]["weights"].shape == (32, 3, 7, 7)
    assert layers[-1]["weights"].shape == (256, 128)
    assert np.allclose(layers[0]["mean"], [122.782, 117.001, 104.298])


def test_converted_model_is_cached_and_reused(dat_path, tmp_path, monkeypatch):
    first = DlibResNetOnnx(dat_path, tmp_path, threads=1)
    assert first.onnx_path.parent == tmp_path
    assert dlib_onnx._sha256(dat_path) in first.onnx_path.name
    assert [p.name for p in tmp_path.iterdir()] == [first.onnx_path.name]  # no temporary file left
    written = first.onnx_path.stat().st_mtime_ns

    def convert_again(path):
        raise AssertionError("converted again although the cache holds the model")

    monkeypatch.setattr(dlib_onnx, "dlib_resnet_onnx_bytes", convert_again)
    second = DlibResNetOnnx(dat_path, tmp_path, threads=1)
    assert second.onnx_path == first.onnx_path and second.onnx_path.stat().st_mtime_ns == written


def test_a_failed_conversion_leaves_no_file_in_the_cache(tmp_path):
    truncated = tmp_path / "model.dat"
    truncated.write_bytes(b"\x01\x01")
    with pytest.raises(DlibModelFormatError):
        DlibResNetOnnx(truncated, tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_truncated_dat_file_is_refused_with_a_clear_error(dat_path, tmp_path):
    data = Path(dat_path).read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DlibModelFormatError, match="truncated"):
        dlib_resnet_weights(truncated)


def test_another_dlib_model_is_refused_as_not_this_network(tmp_path):
    with pytest.raises(DlibModelFormatError):
        dlib_resnet_weights(dlib_model_path("shape_predictor_5_face_landmarks"))
    garbage = tmp_path / "garbage.dat"
    garbage.write_bytes(b"\x01\x01" + b"\x0cnot a network" + bytes(100))
    with pytest.raises(DlibModelFormatError):
        dlib_resnet_weights(garbage)
