"""503 answers when a backing service is down, and the requeue of photos whose task was lost
(the faults themselves are injected in tests/test_faults.py)."""

import json

import pytest
import redis
from django.db import OperationalError
from django.test import RequestFactory
from kombu.exceptions import OperationalError as BrokerError

from common.queues import queue_length
from common.unavailable import ServiceUnavailableMiddleware
from common.workers import redis_client
from enrollment.workflow import enrollment_photo_create, enrollment_requeue_lost
from tests.faces import consenting_holder, val_photo


def _answer(path: str, exc: Exception, **headers):
    middleware = ServiceUnavailableMiddleware(lambda request: None)
    return middleware.process_exception(RequestFactory().get(path, **headers), exc)


def test_a_database_error_in_a_page_answers_a_503_page_with_retry_after():
    response = _answer("/register/", OperationalError("connection refused"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "database is unavailable" in response.content.decode()


def test_a_redis_error_in_a_gate_check_answers_503_json():
    response = _answer("/gate/3/check", redis.ConnectionError("refused"))
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["code"] == "unavailable" and "Redis" in body["message"]
    assert _answer("/api/v1/events/", BrokerError("down")).status_code == 503


def test_other_errors_are_left_to_django():
    assert _answer("/register/", ValueError("a bug")) is None


@pytest.mark.django_db(transaction=True)
def test_a_pending_photo_is_queued_again_only_when_nothing_waits_in_the_queue(event_a, settings):
    settings.FACEPASS_ENROLL_REQUEUE_PENDING_AFTER_S = 0
    holder = consenting_holder(event_a, "P-1", "Pat Pending")
    photo = enrollment_photo_create(holder=holder, image_bytes=val_photo(6, 0))
    assert queue_length("recognition") == 1  # its task, queued on commit (no worker here)
    assert enrollment_requeue_lost() == []  # a backlog: the photo is waiting its turn

    redis_client().delete("recognition")  # the task is lost (Redis restarted without AOF)
    assert queue_length("recognition") == 0
    assert enrollment_requeue_lost() == [photo.pk]
    assert queue_length("recognition") == 1
    redis_client().delete("recognition")


@pytest.mark.django_db(transaction=True)
def test_a_selfie_uploaded_while_the_broker_is_down_is_stored_and_stays_pending(
    event_a, settings, monkeypatch
):
    from common import queues

    def broker_down(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(queues, "task_send", broker_down)
    holder = consenting_holder(event_a, "P-2", "Pia Patient")
    photo = enrollment_photo_create(holder=holder, image_bytes=val_photo(6, 0))
    photo.refresh_from_db()
    assert photo.status == "pending" and photo.image.storage.exists(photo.image.name)
