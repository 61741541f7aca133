import numpy as np
import pytest

from recognition.ml.runtime.artifacts import ArtifactError, read_metadata
from recognition.ml.runtime.embedders import load_embedder


@pytest.fixture(scope="module")
def faces(val_photos, yunet):
    """Three photos: two of one person, one of another, each with its largest face."""
    from recognition.ml.runtime.imageio import read_image_file

    names = sorted(val_photos)
    paths = [val_photos[names[0]][0], val_photos[names[0]][1], val_photos[names[1]][0]]
    images = [read_image_file(path) for path in paths]
    return [(image, yunet.detect(image)[0]) for image in images]


def embed_all(embedder, faces):
    crops = np.stack([embedder.align(image, face) for image, face in faces])
    assert crops.shape == (len(faces), embedder.input_size, embedder.input_size, 3)
    assert crops.dtype == np.uint8
    return embedder.embed(crops)


def assert_unit_vectors(vectors, n):
    assert vectors.shape == (n, 128) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_dlib_resnet_embeds_a_batch_and_the_same_person_is_closer(dlib_embedder, faces):
    vectors = embed_all(dlib_embedder, faces)
    assert_unit_vectors(vectors, 3)
    same, different = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert same > different
    assert dlib_embedder.input_size == 150 and dlib_embedder.metadata["trained"] is True


def test_mobilenet_embeds_a_batch_of_unit_vectors(mobilenet_embedder, faces):
    vectors = embed_all(mobilenet_embedder, faces)
    assert_unit_vectors(vectors, 3)
    assert mobilenet_embedder.input_size == 224


def test_embedding_is_chunked_and_independent_of_batch_size(dlib_embedder, faces):
    crops = np.stack([dlib_embedder.align(image, face) for image, face in faces] * 3)
    whole = dlib_embedder.embed(crops)
    original = dlib_embedder.batch_size
    try:
        dlib_embedder.batch_size = 2
        assert np.allclose(dlib_embedder.embed(crops), whole, atol=1e-5)
    finally:
        dlib_embedder.batch_size = original
    assert dlib_embedder.embed(crops[:0]).shape == (0, 128)


def test_crops_of_the_wrong_size_are_refused(dlib_embedder):
    with pytest.raises(ValueError, match="expects crops"):
        dlib_embedder.embed(np.zeros((1, 64, 64, 3), np.uint8))


def test_load_embedder_loads_once_per_process(untrained_artifact, mobilenet_embedder):
    assert load_embedder("mobilenetv2-siamese", str(untrained_artifact)) is mobilenet_embedder
    assert load_embedder("dlib-resnet") is load_embedder("dlib-resnet")


def test_mobilenet_without_an_artifact_says_how_to_make_one():
    with pytest.raises(ArtifactError, match="make_untrained_artifact"):
        load_embedder("mobilenetv2-siamese", None)


def test_the_untrained_artifact_says_so(untrained_artifact):
    metadata = read_metadata(untrained_artifact)
    assert metadata["trained"] is False and "UNTRAINED" in metadata["warning"]
    assert (metadata["input_size"], metadata["dimensions"]) == (224, 128)


def test_an_artifact_reloads_without_its_backbone_and_embeds_identically(
    tmp_path, backbone_handle, mobilenet_embedder, untrained_artifact, faces
):
    import shutil

    from recognition.ml.runtime.embedders.mobilenet import MobileNetV2SiameseEmbedder

    moved = tmp_path / "artifact"
    shutil.copytree(untrained_artifact, moved)
    reloaded = MobileNetV2SiameseEmbedder(moved, backbone_handle="/nonexistent/backbone")
    crops = np.stack([reloaded.align(image, face) for image, face in faces])
    assert np.allclose(reloaded.embed(crops), mobilenet_embedder.embed(crops), atol=1e-5)


def shipped_mobilenet_copy(tmp_path, flip_average: bool):
    """The shipped MobileNetV2 artifact (model.onnx) copied with flip_average set as asked."""
    import shutil
    from pathlib import Path

    from recognition.ml.runtime.artifacts import write_metadata
    from recognition.ml.runtime.embedders.mobilenet import MobileNetV2SiameseEmbedder

    shipped = Path(__file__).resolve().parents[2] / "recognition/artifacts/mobilenetv2-siamese"
    copy = tmp_path / f"flip-{flip_average}"
    shutil.copytree(shipped, copy)
    metadata = read_metadata(copy)
    metadata["flip_average"] = flip_average
    write_metadata(copy, metadata)
    return MobileNetV2SiameseEmbedder(copy)


def test_a_flip_averaged_embedding_is_the_normalised_sum_of_a_face_and_its_mirror(tmp_path, faces):
    plain = shipped_mobilenet_copy(tmp_path, flip_average=False)
    flipped = shipped_mobilenet_copy(tmp_path, flip_average=True)
    crops = np.stack([plain.align(image, face) for image, face in faces])
    mirrors = crops[:, :, ::-1]
    expected = plain.embed(crops) + plain.embed(mirrors)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    averaged = flipped.embed(crops)
    assert_unit_vectors(averaged, 3)
    assert np.allclose(averaged, expected, atol=1e-5)
    assert np.allclose(flipped.embed(mirrors), averaged, atol=1e-5)
    assert not np.allclose(plain.embed(mirrors), plain.embed(crops), atol=1e-3)


def test_flip_averaging_is_chunked_like_plain_embedding(tmp_path, faces):
    flipped = shipped_mobilenet_copy(tmp_path, flip_average=True)
    crops = np.stack([flipped.align(image, face) for image, face in faces] * 3)
    whole = flipped.embed(crops)
    flipped.batch_size = 2
    assert np.allclose(flipped.embed(crops), whole, atol=1e-5)
