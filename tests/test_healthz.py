import time

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_503_and_names_workers_when_no_worker_runs(client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["workers"]
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["pgvector"]["version"]


def test_healthz_names_redis_when_redis_does_not_answer(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    body = client.get("/healthz").json()
    assert "redis" in body["down"]
    assert "ConnectionError" in body["checks"]["redis"]["error"]


@pytest.mark.worker
def test_healthz_is_200_when_a_real_worker_consumes_every_queue(client, celery_worker_process):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    workers = response.json()["checks"]["workers"]
    assert workers["queues"] == {"recognition": 1, "gate": 1, "default": 1}
    assert "warning" not in workers


@pytest.mark.worker
def test_healthz_names_the_detector_workers_loaded_at_start(client, celery_worker_process):
    deadline = time.monotonic() + 15  # the next heartbeat carries it
    workers = {}
    while time.monotonic() < deadline:
        workers = client.get("/healthz").json()["checks"]["workers"]
        if workers.get("detectors"):
            break
        time.sleep(0.5)
    assert workers.get("detectors") == ["YuNetDetector"]
    assert "warning" not in workers


@pytest.mark.worker
def test_healthz_stays_up_but_warns_when_no_worker_serves_the_default_queue(
    client, transactional_db
):
    from tests.conftest import start_worker, stop_worker, wait_for_worker_heartbeat

    proc = start_worker("gate,recognition", "no-default-test")
    try:
        wait_for_worker_heartbeat("no-default-test")
        response = client.get("/healthz")
    finally:
        stop_worker(proc)
    assert response.status_code == 200
    workers = response.json()["checks"]["workers"]
    assert workers["queues"]["default"] == 0
    assert "no worker consumes queue(s): default" in workers["warning"]


@pytest.mark.worker
def test_healthz_warns_when_the_worker_fell_back_to_dlib_hog(client, transactional_db):
    from tests.conftest import start_worker, stop_worker, wait_for_worker_heartbeat

    proc = start_worker(
        "gate,recognition,default", "fallback-test", FACEPASS_YUNET_MODEL="/nonexistent.onnx"
    )
    try:
        wait_for_worker_heartbeat("fallback-test")
        deadline, workers = time.monotonic() + 15, {}
        while time.monotonic() < deadline and "warning" not in workers:
            workers = client.get("/healthz").json()["checks"]["workers"]
            time.sleep(0.5)
    finally:
        stop_worker(proc)
    assert workers.get("detectors") == ["DlibHogDetector"]
    assert "fell back to dlib-hog" in workers["warning"]
