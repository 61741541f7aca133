"""The burst generator and the report tool, on one ORL person and one celeba identity."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from recognition.ml.tools import liveness_bursts, liveness_report

SMALL = [
    "--people", "1",
    "--identities", "1",
    "--turn-variants", "1",
    "--free-variants", "1",
    "--attack-variants", "1",
    "--celeba-variants", "1",
    "--replay-variants", "1",
    "--frames", "4",
]  # fmt: skip


def generate(shared_dir: Path, out: Path, seed: int) -> None:
    liveness_bursts.main(
        [
            "--orl", str(shared_dir / "datasets" / "orl-dev"),
            "--celeba", str(shared_dir / "datasets" / "celeba-dev" / "val"),
            "--yunet-model", str(shared_dir / "models" / "face_detection_yunet_2026may.onnx"),
            "--out", str(out),
            "--seed", str(seed),
            *SMALL,
        ]
    )  # fmt: skip


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def generated(shared_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bursts") / "a"
    generate(shared_dir, out, seed=7)
    return out


def test_the_generator_is_deterministic_for_a_seed(shared_dir, generated, tmp_path):
    generate(shared_dir, tmp_path / "b", seed=7)
    generate(shared_dir, tmp_path / "c", seed=8)
    first, again, other = (digests(p) for p in (generated, tmp_path / "b", tmp_path / "c"))
    assert first == again
    assert any(first[name] != other.get(name) for name in first if name.endswith(".jpg"))


def test_the_generator_splits_people_and_labels_every_burst(generated):
    manifest = json.loads((generated / "manifest.json").read_text())
    assert manifest["splits"]["tune"]["orl"] == ["s1"]
    assert manifest["splits"]["tune"]["celeba"] and not manifest["splits"]["test"]["orl"]
    kinds = set()
    for path in generated.rglob("burst.json"):
        burst = json.loads(path.read_text())
        kinds.add(burst["kind"])
        assert burst["label"] == ("genuine" if burst["kind"].startswith("genuine") else "attack")
        assert len(burst["frames"]) == 4
        assert all((path.parent / name).is_file() for name in burst["frames"])
    assert {"genuine_turn", "genuine_free", "print", "print_bent", "screen"} <= kinds


def test_the_report_tool_scores_a_folder_of_unlabelled_bursts(generated, shared_dir, tmp_path):
    # Other material has no burst.json: frames in folders, the label given on the command line.
    other = tmp_path / "other"
    source = next(p.parent for p in generated.rglob("burst.json") if "turn-left" in p.parent.name)
    (other / "one").mkdir(parents=True)
    for frame in sorted(source.glob("*.jpg")):
        (other / "one" / frame.name).symlink_to(frame)
    out = tmp_path / "report.json"
    liveness_report.main(
        [
            str(other), "--label", "genuine", "--challenge", "left",
            "--yunet-model", str(shared_dir / "models" / "face_detection_yunet_2026may.onnx"),
            "--out", str(out),
        ]
    )  # fmt: skip
    report = json.loads(out.read_text())
    challenge = report["policies"]["challenge"]["test"]
    assert challenge["combined"]["BPCER"] == {"rate": 0.0, "errors": 0, "count": 1}
    assert any("Masks" in line for line in report["not_covered"])
    assert report["latency"]["total"]["p50_ms"] > 0
