"""Faults injected for real: Redis stopped during check-ins, a recognition worker killed with
SIGKILL mid-enrollment, PostgreSQL restarted under load. See tests/faults.py for the parts.
(A webhook receiver that is down: tests/test_webhooks.py.)
"""

import base64
import threading
import time
import uuid

import pytest
import requests
from django.db import connection

from api.services import api_key_create
from attendees.models import EnrollmentPhoto
from enrollment.workflow import enrollment_photo_create, enrollment_requeue_lost
from events.models import CheckIn, Gate
from recognition.models import FaceEmbedding
from tests.faces import consenting_holder, val_photo
from tests.faults import (
    Gunicorn,
    PrivatePostgres,
    PrivateRedis,
    Worker,
    service_env,
    wait_until,
)

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SAME_PERSON = (6, 1)


def api_key(org) -> dict:
    _, plaintext = api_key_create(organization=org, name="turnstile vendor")
    return {"Authorization": f"Bearer {plaintext}"}


def check_in(base: str, headers: dict, gate: Gate, ticket: str, image: bytes):
    body = {
        "gate": gate.pk,
        "ticket_code": ticket,
        "image_base64": base64.b64encode(image).decode(),
    }
    return requests.post(f"{base}/api/v1/checkins/", json=body, headers=headers, timeout=20)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def test_with_redis_stopped_check_ins_answer_503_and_work_again_once_redis_is_back(
    private_redis, enrolled
):
    headers = api_key(enrolled.event.organization)
    gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    env = service_env(REDIS_URL=private_redis.url, FACEPASS_ENROLL_REQUEUE_PENDING_AFTER_S="1")
    web = Gunicorn(env)
    worker = Worker("gate,recognition", env, f"fault-{uuid.uuid4().hex[:6]}")
    try:
        worker.wait_ready(private_redis.url)
        frame = val_photo(*SAME_PERSON)
        assert check_in(web.base, headers, gate, "E-1", frame).status_code == 201

        private_redis.stop()
        started = time.monotonic()
        down = check_in(web.base, headers, gate, "E-1", frame)
        assert time.monotonic() - started < 5  # answered at once, not after a hang
        assert down.status_code == 503, down.text
        assert down.json()["code"] == "unavailable"
        assert "Redis" in down.json()["message"]
        assert CheckIn.objects.count() == 1  # nothing recorded for the failed attempt

        # An attendee's selfie sent meanwhile is kept, not lost: stored, waiting for its task.
        late = consenting_holder(enrolled.event, "E-2", "Lena Late")
        photo_url = f"{web.base}/api/v1/events/{late.event_id}/holders/{late.pk}/photos/"
        image = base64.b64encode(val_photo(8, 0)).decode()
        upload = requests.post(photo_url, json={"image_base64": image}, headers=headers, timeout=20)
        assert upload.status_code == 202, upload.text
        photo = EnrollmentPhoto.objects.get(holder=late)
        assert photo.status == EnrollmentPhoto.Status.PENDING

        private_redis.start()
        # The worker reconnects by itself; the web server needs no restart.
        recovered = wait_until(
            lambda: _admitted_or_none(web.base, headers, gate, frame), 60, "a check-in answered"
        )
        assert recovered.json()["decision"] == "deny"  # already checked in: the first admit
        assert recovered.json()["reason"] == "already_checked_in"

        # The periodic requeue (Celery beat) queues the stranded selfie on the restored broker.
        _requeue_through(env)
        wait_until(lambda: _status(photo) == "accepted", 60, "the stranded selfie enrolled")
    finally:
        worker.stop()
        web.stop()


def _admitted_or_none(base, headers, gate, frame):
    response = check_in(base, headers, gate, "E-1", frame)
    return response if response.status_code == 201 else None


def _status(photo) -> str:
    photo.refresh_from_db()
    return photo.status


def _requeue_through(env: dict) -> None:
    """The beat task's work, in a process whose broker is the private Redis."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    code = "from enrollment.workflow import enrollment_requeue_lost as r; print(r())"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=REPO_ROOT, env=env, check=True
    )


# Short limits so that a claim of the killed worker counts as abandoned within seconds, and
# Redis hands its unacknowledged message out again (kombu restores every 10 s).
FAST_RECOVERY = {
    "CELERY_TASK_SOFT_TIME_LIMIT": "5",
    "CELERY_TASK_TIME_LIMIT": "6",
    "CELERY_VISIBILITY_TIMEOUT": "8",
    "FACEPASS_ENROLL_BATCH_SIZE": "1",
}


def _queue_photos(event, count: int) -> list[EnrollmentPhoto]:
    photos = []
    for index in range(count):
        holder = consenting_holder(event, f"K-{index}", f"Holder {index}")
        photos.append(enrollment_photo_create(holder=holder, image_bytes=val_photo(index % 10, 0)))
    return photos


def _statuses(photos) -> list[str]:
    ids = [p.pk for p in photos]
    by_id = dict(EnrollmentPhoto.objects.filter(pk__in=ids).values_list("pk", "status"))
    return [by_id[i] for i in ids]


def _finished(photos) -> bool:
    return all(s in ("accepted", "rejected") for s in _statuses(photos))


def _assert_each_processed_once(photos) -> None:
    for photo in EnrollmentPhoto.objects.filter(pk__in=[p.pk for p in photos]):
        embeddings = FaceEmbedding.objects.filter(photo=photo).count()
        assert embeddings == (1 if photo.status == "accepted" else 0), photo.pk


def test_a_recognition_worker_killed_mid_enrollment_loses_no_photo(event_a, default_model):
    photos = _queue_photos(event_a, 6)
    env = service_env(**FAST_RECOVERY)
    first = Worker("recognition", env, f"doomed-{uuid.uuid4().hex[:6]}")
    try:
        wait_until(lambda: "processing" in _statuses(photos), 120, "a photo in processing", 0.01)
        first.kill()  # SIGKILL to the main process and its pool child at once
    finally:
        first.stop()
    at_kill = _statuses(photos)
    assert "processing" in at_kill and not _finished(photos), at_kill

    second = Worker("recognition", env, f"after-{uuid.uuid4().hex[:6]}")
    try:
        wait_until(lambda: _finished(photos), 120, "every photo processed after the restart")
    finally:
        second.stop()
    _assert_each_processed_once(photos)
    interrupted = [p for p, s in zip(photos, at_kill, strict=True) if s == "processing"]
    for photo in interrupted:
        photo.refresh_from_db()
        assert photo.attempts >= 2  # claimed again after the kill


def test_a_photo_whose_pool_process_died_is_queued_again_by_the_requeue_task(
    event_a, default_model
):
    """A killed pool process (the OOM killer's favourite) gets its task redelivered at once;
    it finds the photo still claimed and leaves it. The periodic requeue picks it up."""
    [photo] = _queue_photos(event_a, 1)
    # The dead claim: older than the task time limit, and its message already consumed.
    EnrollmentPhoto.objects.filter(pk=photo.pk).update(
        status="processing", processing_started_at=_seconds_ago(3600)
    )
    _drain_recognition_queue()
    assert enrollment_requeue_lost() == [photo.pk]
    assert enrollment_requeue_lost() == [photo.pk]  # a duplicate task must not enroll twice
    worker = Worker("recognition", service_env(), f"requeue-{uuid.uuid4().hex[:6]}")
    try:
        wait_until(lambda: _status(photo) == "accepted", 120, "the requeued photo enrolled")
    finally:
        worker.stop()
    _assert_each_processed_once([photo])


def _seconds_ago(seconds: float):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(seconds=seconds)


def _drain_recognition_queue() -> None:
    from common.workers import redis_client

    redis_client().delete("recognition")


def test_a_postgresql_restart_costs_at_most_the_requests_in_flight(org_a, event_a):
    headers = api_key(org_a)
    postgres = PrivatePostgres()
    postgres.init()
    web = None
    try:
        postgres.copy_database(connection.settings_dict["NAME"])
        web = Gunicorn(service_env(DATABASE_URL=postgres.url), workers=2, threads=2)
        load = RequestLoad(f"{web.base}/api/v1/events/", headers, clients=4)
        with load:  # restarted under load: requests in flight may fail, with a clean 503
            time.sleep(1.5)
            down_at = time.monotonic()
            postgres.restart()
            up_at = time.monotonic()
            time.sleep(3)
        failed = [r for r in load.results if r[2] != 200]
        assert all(status == 503 for _, _, status, _ in failed), failed
        assert all(body.get("code") == "unavailable" for *_, body in failed)
        assert all(start < up_at and end > down_at for start, end, _, _ in failed), failed
        after = [r for r in load.results if r[0] > up_at]
        assert len(after) > 20 and all(r[2] == 200 for r in after)
        assert sum(r[2] == 200 for r in load.results if r[1] < down_at) > 20

        # Restarted while idle: no request was in flight, so none may fail. Every web thread
        # holds a connection the restart killed; health checks replace it before use.
        postgres.restart()
        idle_restart = RequestLoad(f"{web.base}/api/v1/events/", headers, clients=4)
        with idle_restart:
            time.sleep(2)
        statuses = [r[2] for r in idle_restart.results]
        assert len(statuses) > 20 and set(statuses) == {200}, statuses
    finally:
        if web is not None:
            web.stop()
        postgres.destroy()


class RequestLoad:
    """Clients sending requests back to back; results as (start, end, status, json body)."""

    def __init__(self, url: str, headers: dict, clients: int):
        self.url, self.headers = url, headers
        self.results: list[tuple[float, float, int, dict]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self):
        session = requests.Session()
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                response = session.get(self.url, headers=self.headers, timeout=10)
                status, body = response.status_code, _json(response)
            except requests.RequestException as exc:
                status, body = 0, {"error": str(exc)}
            self.results.append((start, time.monotonic(), status, body))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=20)


def _json(response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {"text": response.text[:200]}
