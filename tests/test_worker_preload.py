"""Face workers load the active model as their process starts, not inside their first task."""

import socket
import time
import uuid

import pytest

from common.workers import live_workers, model_states, model_summary, redis_client
from facepass_site.health import run_checks
from recognition import inference, worker_boot
from recognition.frames import frames_embed_on_gate_queue
from recognition.models import EmbeddingModel
from recognition.services import embedding_model_activate
from tests.conftest import start_worker, stop_worker, wait_for_worker_heartbeat
from tests.faces import val_photo


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
    worker_boot.load_active_model().join()  # loads in a thread: the process reports up first
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


@pytest.mark.worker
def test_a_face_worker_whose_model_loads_slower_than_celerys_start_limit_still_answers(
    transactional_db, default_model, tmp_path
):
    """Celery kills a pool process that has not reported up within worker_proc_alive_timeout
    (here 0.2 s, far below the model's load from a cold cache: dlib's network converted to ONNX
    and warmed). The process must report up first and load in the background, so it is
    neither killed nor restarted, /healthz says so, and the gate gets its answer."""
    name = f"test-slow-{uuid.uuid4().hex[:6]}"
    proc = start_worker(
        "gate",
        name,
        CELERY_WORKER_PROC_ALIVE_TIMEOUT="0.2",
        FACEPASS_MODEL_CACHE_DIR=str(tmp_path / "cold-cache"),
    )
    try:
        wait_for_worker_heartbeat(name)
        worker = next(w for w in live_workers() if w["hostname"].startswith(name))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _model_state(worker) != "ready":
            time.sleep(0.3)
        assert _model_state(worker) == "ready"
        answer = frames_embed_on_gate_queue([val_photo(6, 1)], default_model)
        assert answer.frames[0].embedding is not None
        processes = model_states(redis_client(), socket.gethostname(), worker["pid"])
        assert len(processes) == 1, processes  # one pool process, never killed and replaced
        # A heartbeat (every 5 s) carries the state: the last one may still say "loading".
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and run_checks()["workers"].get("models") != {"ready": 1}:
            time.sleep(0.5)
        assert run_checks()["workers"]["models"] == {"ready": 1}
    finally:
        stop_worker(proc)


def _model_state(worker: dict) -> str | None:
    return model_summary(model_states(redis_client(), socket.gethostname(), worker["pid"]))


def test_a_face_worker_process_runs_opencv_on_the_threads_the_setting_gives(settings):
    import cv2

    before = cv2.getNumThreads()
    try:
        for threads in (2, 1):
            settings.FACEPASS_OPENCV_THREADS = threads
            worker_boot.load_detector()
            assert cv2.getNumThreads() == threads
    finally:
        cv2.setNumThreads(before)
