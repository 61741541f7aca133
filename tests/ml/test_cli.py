"""The command-line tools end to end, in subprocesses, on 3 identities x 2 symlinked photos."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_module(module, *args, env):
    # The tools read no environment: the local model files come as flags.
    flags = ["--yunet-model", env["FACEPASS_YUNET_MODEL"]]
    flags += ["--backbone-handle", env["FACEPASS_BACKBONE_HANDLE"]]
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args), *flags],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_embed_cli_writes_one_row_per_image_found_in_directories(tiny_dataset, tmp_path, cli_env):
    out = tmp_path / "faces.npz"
    done = run_module(
        "recognition.ml.tools.embed",
        "--embedder",
        "dlib-resnet",
        "--out",
        out,
        tiny_dataset,
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    data = np.load(out)
    assert len(data["paths"]) == 6 and data["paths"].tolist() == sorted(data["paths"].tolist())
    assert data["embeddings"].shape == (6, 128) and data["embeddings"].dtype == np.float32
    assert data["detected"].dtype == bool and data["detected"].all()
    assert data["boxes"].shape == (6, 4) and (data["boxes"][:, 2] > 20).all()


def test_embed_cli_with_mobilenet_uses_the_artifact(
    tiny_dataset, untrained_artifact, tmp_path, cli_env, val_photos
):
    out = tmp_path / "faces.npz"
    one = next(iter(val_photos.values()))[0]
    done = run_module(
        "recognition.ml.tools.embed",
        "--embedder",
        "mobilenetv2-siamese",
        "--model",
        untrained_artifact,
        "--out",
        out,
        one,
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    data = np.load(out)
    assert data["paths"].tolist() == [str(one)]
    assert np.linalg.norm(data["embeddings"][0]) == pytest.approx(1.0, abs=1e-5)


def test_embed_cli_without_a_mobilenet_model_explains_how_to_make_one(
    tmp_path, cli_env, photo_path
):
    done = run_module(
        "recognition.ml.tools.embed",
        "--embedder",
        "mobilenetv2-siamese",
        "--out",
        tmp_path / "x.npz",
        photo_path,
        env=cli_env,
    )
    assert done.returncode == 2
    assert "make_untrained_artifact" in done.stderr and "Traceback" not in done.stderr


def test_an_unreadable_input_fails_with_one_line_and_exit_code_2(tmp_path, cli_env):
    missing = tmp_path / "nowhere.jpg"
    done = run_module(
        "recognition.ml.tools.embed",
        "--embedder",
        "dlib-resnet",
        "--out",
        tmp_path / "x.npz",
        missing,
        env=cli_env,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: no such file or directory: {missing}"]


def test_a_broken_image_inside_a_directory_is_warned_about_and_counted_as_no_face(
    tmp_path, cli_env, photo_path
):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").symlink_to(photo_path)
    (tmp_path / "imgs" / "b.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "x.npz"
    done = run_module(
        "recognition.ml.tools.embed",
        "--embedder",
        "dlib-resnet",
        "--out",
        out,
        tmp_path / "imgs",
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    assert "b.jpg" in done.stderr
    assert np.load(out)["detected"].tolist() == [True, False]


def test_evaluate_cli_reports_pairs_metrics_and_writes_thresholds(tiny_dataset, tmp_path, cli_env):
    report_path, plot = tmp_path / "report.json", tmp_path / "roc.png"
    artifact = tmp_path / "dlib-artifact"
    done = run_module(
        "recognition.ml.tools.evaluate",
        "--data",
        tiny_dataset,
        "--embedder",
        "dlib-resnet",
        "--model",
        artifact,
        "--out",
        report_path,
        "--plot",
        plot,
        "--write-thresholds",
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    assert (report["images"], report["identities"], report["detection_rate"]) == (6, 3, 1.0)
    assert (report["genuine_pairs"], report["impostor_pairs"]) == (3, 12)
    assert 0.5 <= report["roc_auc"] <= 1.0 and set(report["tar_at_far"]) == set()
    assert report["rank1"] >= 0 and report["mean_ms_per_face_detect_align_embed"] > 0
    assert plot.stat().st_size > 1000
    metadata = json.loads((artifact / "metadata.json").read_text())
    assert metadata["metrics"]["roc_auc"] == report["roc_auc"]


def test_evaluate_cli_on_a_missing_directory_fails_cleanly(tmp_path, cli_env):
    done = run_module(
        "recognition.ml.tools.evaluate",
        "--data",
        tmp_path / "none",
        "--embedder",
        "dlib-resnet",
        "--out",
        tmp_path / "r.json",
        env=cli_env,
    )
    assert done.returncode == 2 and done.stderr.startswith("error:")
