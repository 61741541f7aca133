"""Score fusion over enrollment photos and camera frames, on real dlib-resnet embeddings."""

import numpy as np
import pytest

from recognition.ml.runtime.fusion import frame_scores, pair_fusion, template, templates, unit
from tests.ml.conftest import IDENTITIES


@pytest.fixture(scope="module")
def faces(val_photos, yunet):
    """Real embeddings of the fixture's two photos of each of three val identities."""
    from recognition.ml.runtime.config import RuntimeConfig
    from recognition.ml.runtime.embedders import load_embedder
    from recognition.ml.runtime.pipeline import embed_files

    embedder = load_embedder("dlib-resnet", None, RuntimeConfig())
    paths = [p for name in IDENTITIES for p in val_photos[name]]
    result = embed_files(paths, yunet, embedder)
    assert result.detected.all()
    return unit(result.embeddings).reshape(len(IDENTITIES), 2, -1)


def test_a_template_is_the_unit_mean_of_the_unit_photos(faces):
    photos = faces[0]
    expected = photos.sum(axis=0) / np.linalg.norm(photos.sum(axis=0))
    assert template(photos * [[3.0], [0.5]]) == pytest.approx(expected, abs=1e-6)
    assert template(photos[:1]) == pytest.approx(photos[0], abs=1e-6)
    assert np.linalg.norm(template(photos)) == pytest.approx(1.0, abs=1e-6)
    assert template(photos[::-1]) == pytest.approx(template(photos), abs=1e-6)


def test_templates_of_many_holders_equal_each_holders_template(faces):
    photos = faces.reshape(-1, faces.shape[-1])
    owners = np.repeat(np.arange(len(faces)), 2)
    many = templates(photos, owners, len(faces))
    for i, holder in enumerate(faces):
        assert many[i] == pytest.approx(template(holder), abs=1e-6)
    with pytest.raises(ValueError, match="every holder"):
        templates(photos, owners, len(faces) + 1)


def test_frame_scores_average_the_frames_cosines_with_each_template(faces):
    holder_templates = np.stack([template(f) for f in faces])
    frames = faces[:, 0]  # one photo of each person as the frames of one attempt
    scores = frame_scores(frames, holder_templates)
    assert scores == pytest.approx((frames @ holder_templates.T).mean(axis=0), abs=1e-6)
    single = frame_scores(frames[:1], holder_templates)
    assert frame_scores(np.repeat(frames[:1], 3, axis=0), holder_templates) == pytest.approx(
        single, abs=1e-6
    )


def test_a_persons_template_outscores_the_other_holders_for_their_own_photo(faces):
    holder_templates = np.stack([template(f) for f in faces])
    for person, photos in enumerate(faces):
        scores = frame_scores(photos[:1], holder_templates)
        assert int(np.argmax(scores)) == person


def test_pair_fusions_take_the_best_or_the_mean_of_the_best_two():
    pairs = np.array([[0.90, 0.95, 0.80], [0.70, 0.60, 0.65]])
    assert pair_fusion(pairs, "max") == pytest.approx([0.95, 0.70])
    assert pair_fusion(pairs, "top2") == pytest.approx([0.925, 0.675])
    assert pair_fusion(pairs[:, :1], "top2") == pytest.approx([0.90, 0.70])
    with pytest.raises(ValueError, match="unknown pair fusion"):
        pair_fusion(pairs, "median")
