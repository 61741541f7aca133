import json

import pytest

from recognition.ml.runtime.artifacts import (
    ArtifactError,
    far_key,
    read_metadata,
    threshold_for,
    write_metadata,
    write_thresholds,
)
from recognition.ml.runtime.embedders.dlib_resnet import default_metadata


def test_metadata_round_trips_and_thresholds_are_replaced(tmp_path):
    write_metadata(tmp_path, default_metadata())
    assert read_metadata(tmp_path) == default_metadata()
    write_thresholds(tmp_path, {"1e-3": 0.91, "1e-2": 0.88}, {"roc_auc": 0.99})
    metadata = read_metadata(tmp_path)
    assert metadata["metrics"] == {"roc_auc": 0.99}
    assert threshold_for(metadata, 1e-3) == 0.91


def test_a_missing_threshold_names_the_command_that_measures_it(tmp_path):
    with pytest.raises(ArtifactError, match="--write-thresholds"):
        threshold_for(default_metadata() | {"thresholds": {}}, 1e-4)


def test_incomplete_or_inconsistent_metadata_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="missing"):
        read_metadata(tmp_path)
    broken = default_metadata()
    del broken["margin"]
    (tmp_path / "metadata.json").write_text(json.dumps(broken))
    with pytest.raises(ArtifactError, match="margin"):
        read_metadata(tmp_path)
    with pytest.raises(ArtifactError, match="cosine"):
        write_metadata(tmp_path, default_metadata() | {"thresholds": {"1e-3": 7.0}})


@pytest.mark.parametrize("far, key", [(1e-2, "1e-2"), (1e-3, "1e-3"), (1e-4, "1e-4")])
def test_far_keys_are_written_compactly(far, key):
    assert far_key(far) == key


def test_the_shipped_mobilenet_artifact_serves_on_onnxruntime_with_nothing_else():
    """Self-contained and small: the whole network is model.onnx; serving needs neither the
    backbone handle nor TensorFlow."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    artifact = root / "recognition/artifacts/mobilenetv2-siamese"
    size = sum(p.stat().st_size for p in artifact.rglob("*") if p.is_file())
    assert size <= 15 * 1024 * 1024
    code = (
        "import sys, numpy as np\n"
        "from recognition.ml.runtime.embedders.mobilenet import MobileNetV2SiameseEmbedder\n"
        f"e = MobileNetV2SiameseEmbedder({str(artifact)!r}, backbone_handle='/nonexistent')\n"
        "assert e.runtime == 'onnx' and e.metadata['trained'] is True\n"
        "assert set(e.metadata['thresholds']) == {'1e-2', '1e-3', '1e-4'}\n"
        "s = e.input_size\n"
        "crops = np.random.default_rng(0).integers(0, 255, (2, s, s, 3), dtype=np.uint8)\n"
        "v = e.embed(crops)\n"
        "assert v.shape == (2, 128) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)\n"
        "print('tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_the_shipped_contrastive_cnn_serves_without_tensorflow_and_tells_people_apart(
    yunet, val_dir
):
    from pathlib import Path

    import numpy as np

    from recognition.ml.runtime.embedders import load_embedder
    from recognition.ml.runtime.imageio import read_image_file
    from recognition.ml.runtime.pipeline import FacePipeline
    from tests.ml.serving import tensorflow_imported_while_serving

    artifact = Path(__file__).resolve().parents[2] / "recognition/artifacts/contrastive-cnn"
    assert tensorflow_imported_while_serving("contrastive-cnn", artifact, 64) == "False"
    pipeline = FacePipeline(yunet, load_embedder("contrastive-cnn", str(artifact)))
    people = [sorted(folder.glob("*.jpg"))[:3] for folder in sorted(val_dir.iterdir())[:8]]
    vectors, owners = [], []
    for person, paths in enumerate(people):
        for path in paths:
            result = pipeline.embed_largest_face(read_image_file(path))
            if result.embedding is not None:
                vectors.append(result.embedding)
                owners.append(person)
    similarity = np.stack(vectors) @ np.stack(vectors).T
    same = np.equal.outer(owners, owners) & ~np.eye(len(owners), dtype=bool)
    different = ~np.equal.outer(owners, owners)
    # On all of val: 0.525 for the same person, 0.256 for different people.
    assert similarity[same].mean() - similarity[different].mean() > 0.15
