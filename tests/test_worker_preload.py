"""Face workers load the active model as their process starts, not inside their first task."""

import pytest

from recognition import inference, worker_boot
from recognition.models import EmbeddingModel
from recognition.services import embedding_model_activate


@pytest.fixture
def mobilenet_active(default_model):
    mobilenet = EmbeddingModel.objects.get(kind="mobilenetv2-siamese")
    embedding_model_activate(model=mobilenet)
    return mobilenet


@pytest.mark.django_db
def test_a_gate_worker_process_loads_and_runs_the_active_model_at_start(
    mobilenet_active, monkeypatch
):
    inference._pipeline.cache_clear()
    monkeypatch.setattr(worker_boot, "_consumed_queues", lambda: {"gate"})
    worker_boot.load_active_model()
    assert inference._pipeline.cache_info().currsize == 1
    before = inference._pipeline.cache_info().hits
    inference.pipeline_for(mobilenet_active)  # what the first gate task does
    assert inference._pipeline.cache_info().hits == before + 1  # already loaded


@pytest.mark.django_db
def test_a_default_queue_worker_loads_no_face_model(mobilenet_active, monkeypatch):
    inference._pipeline.cache_clear()
    monkeypatch.setattr(worker_boot, "_consumed_queues", lambda: {"default"})
    worker_boot.load_active_model()
    assert inference._pipeline.cache_info().currsize == 0
