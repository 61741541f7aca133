"""The shipping rule decides the default face model; switching an installation means activating
the new model and re-embedding every accepted photo with it."""

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from enrollment.workflow import enrollment_process, reembed_pending
from recognition.management.commands.ensure_default_model import ARTIFACTS, default_artifact
from recognition.ml.runtime.artifacts import meets_shipping_rule, shipping_gaps
from recognition.ml.runtime.embedders.dlib_resnet import default_metadata
from recognition.models import EmbeddingModel, FaceEmbedding
from tests.faces import consenting_holder, stored_photo, val_photo

REFERENCE = {"roc_auc": 0.991, "tar_at_far": {"1e-3": 0.785}}


def metrics(auc: float, tar: float) -> dict:
    return {"roc_auc": auc, "tar_at_far": {"1e-3": {"tar": tar, "threshold": 0.5}}}


def test_a_candidate_ships_as_default_only_within_0_005_auc_and_0_03_tar_of_dlib():
    assert meets_shipping_rule(metrics(0.987, 0.76), REFERENCE)
    assert meets_shipping_rule(metrics(0.995, 0.80), REFERENCE)  # better is fine
    assert not meets_shipping_rule(metrics(0.985, 0.78), REFERENCE)  # AUC 0.006 short
    assert not meets_shipping_rule(metrics(0.99, 0.75), REFERENCE)  # TAR 0.035 short
    assert not meets_shipping_rule({"roc_auc": 0.999}, REFERENCE)  # never evaluated at 1e-3
    assert shipping_gaps(metrics(0.981, 0.5), REFERENCE) == pytest.approx(
        {"roc_auc": 0.01, "tar_at_far_1e-3": 0.285}
    )


def test_the_shipped_default_follows_the_rule_on_the_shipped_metrics():
    candidate = json.loads((ARTIFACTS / "mobilenetv2-siamese" / "metadata.json").read_text())
    reference = json.loads((ARTIFACTS / "dlib-resnet" / "metadata.json").read_text())
    passes = meets_shipping_rule(candidate["metrics"], reference["metrics"])
    expected = "mobilenetv2-siamese" if passes else "dlib-resnet"
    assert default_artifact().name == expected


def shipped_copy(tmp_path: Path, candidate_metrics: dict) -> Path:
    """The shipped reference plus a candidate (dlib's network under another version, so the
    test embeds without TensorFlow) carrying the given validation metrics."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(ARTIFACTS / "dlib-resnet", artifacts / "dlib-resnet")
    candidate = default_metadata() | {"version": "candidate-v1", "metrics": candidate_metrics}
    (artifacts / "mobilenetv2-siamese").mkdir()
    (artifacts / "mobilenetv2-siamese" / "metadata.json").write_text(json.dumps(candidate))
    return artifacts


def ensure(artifacts: Path) -> str:
    out = io.StringIO()
    call_command("ensure_default_model", "--artifacts", str(artifacts), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_candidate_that_misses_the_rule_is_registered_but_not_activated(tmp_path):
    ensure(shipped_copy(tmp_path, metrics(0.90, 0.2)))
    active = EmbeddingModel.objects.get(is_active=True)
    assert active.version == default_metadata()["version"]
    assert EmbeddingModel.objects.filter(version="candidate-v1", is_active=False).exists()


@pytest.mark.django_db
def test_a_candidate_that_meets_the_rule_is_the_default_of_a_new_installation(tmp_path):
    ensure(shipped_copy(tmp_path, metrics(0.99, 0.78)))
    assert EmbeddingModel.objects.get(is_active=True).version == "candidate-v1"


def test_an_installation_switches_by_activating_then_reembedding(tmp_path, event_a):
    ensure(shipped_copy(tmp_path, metrics(0.90, 0.2)))  # the old default is active
    photo = stored_photo(consenting_holder(event_a, "S1"), val_photo(5))
    enrollment_process(photo_ids=[photo.pk])
    said = ensure(shipped_copy(tmp_path / "newer", metrics(0.99, 0.78)))
    assert "activate_model" in said and "reembed" in said  # an installation keeps its model
    candidate = EmbeddingModel.objects.get(version="candidate-v1")
    assert not candidate.is_active
    out = io.StringIO()
    call_command("activate_model", candidate.name, candidate.version, stdout=out)
    assert "1 accepted photos need `reembed`" in out.getvalue()
    assert reembed_pending(batch_size=4) == 1
    assert FaceEmbedding.objects.filter(photo=photo, model=candidate).exists()
    assert reembed_pending(batch_size=4) == 0
