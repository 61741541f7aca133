"""Outgoing webhooks against a real HTTP receiver (http.server on 127.0.0.1)."""

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from attendees.services import ticket_holder_create, ticket_holder_record_consent
from checkins.gate import GateOutcome
from checkins.services import checkin_record
from common.reasons import reason_text
from enrollment.workflow import enrollment_photo_record_result
from recognition.ml.runtime.pipeline import FaceResult
from recognition.ml.runtime.quality import QualityVerdict
from tests.faces import blank_jpeg, stored_photo
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    webhook_deliveries_queue,
    webhook_delivery_attempt,
    webhook_endpoint_create,
    webhook_event_emit,
    webhook_events_emit,
)
from webhooks.signing import signature_verify


@dataclass
class Received:
    headers: object  # http.client.HTTPMessage: case-insensitive get()
    body: bytes
    at: float  # time.monotonic() on arrival


class Receiver:
    """Records every POST; answers `failure_status` to the next `failures_left` requests."""

    def __init__(self):
        self.requests: list[Received] = []
        self.failures_left = 0
        self.failure_status = 500
        self.failure_headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self, received: Received) -> tuple[int, dict[str, str]]:
        with self._lock:
            self.requests.append(received)
            if self.failures_left > 0:
                self.failures_left -= 1
                return self.failure_status, self.failure_headers
            return 200, {}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _handler_for(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, headers = receiver._answer(Received(self.headers, body, time.monotonic()))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def closed_port_url():
    """A URL nobody listens on: the port was free a moment ago and is closed now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


@pytest.fixture
def fast_backoff(settings):
    settings.FACEPASS_WEBHOOK_BACKOFF_SECONDS = 10
    settings.FACEPASS_WEBHOOK_MAX_ATTEMPTS = 6
    settings.FACEPASS_WEBHOOK_TIMEOUT_SECONDS = 3
    return settings


def emit(organization, django_capture_on_commit_callbacks, event_type="checkin.created"):
    """Emit without running the on-commit queueing: these tests make the attempts themselves."""
    with django_capture_on_commit_callbacks(execute=False):
        return webhook_event_emit(
            organization=organization, event_type=event_type, payload={"hello": "wörld"}
        )


def attempt_until_done(delivery, attempt: int = 1) -> list[float]:
    """Make attempts as the task would, without waiting; returns the backoff delays."""
    delays = []
    while (delay := webhook_delivery_attempt(delivery_id=delivery.pk, attempt=attempt)) is not None:
        delivery.refresh_from_db()
        expected_next = timezone.now() + timedelta(seconds=delay)
        assert abs((delivery.next_attempt_at - expected_next).total_seconds()) < 5
        delays.append(delay)
        attempt += 1
    delivery.refresh_from_db()
    return delays


def holder_of(event, code="T-7", external_id="crm-7"):
    holder = ticket_holder_create(
        event=event, ticket_code=code, name="Tess Ticket", external_id=external_id
    )
    return ticket_holder_record_consent(holder=holder, text_version="2026-11")


@pytest.mark.django_db
def test_a_delivery_is_signed_with_the_endpoints_secret_and_its_timestamp(
    receiver, org_a, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint_create(organization=org_a, url=receiver.url)
    [delivery] = emit(org_a, django_capture_on_commit_callbacks)
    assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1) is None

    [request] = receiver.requests
    timestamp = request.headers["X-FacePass-Timestamp"]
    header = request.headers["X-FacePass-Signature"]
    assert abs(int(timestamp) - time.time()) < 60
    # The documented scheme, computed here independently of the webhooks code.
    message = f"{timestamp}.".encode() + request.body
    expected = hmac.new(endpoint.secret.encode(), message, hashlib.sha256).hexdigest()
    assert header == f"v1={expected}"
    assert signature_verify(endpoint.secret, timestamp, request.body, header, 300)
    assert not signature_verify("another-secret", timestamp, request.body, header, 300)
    assert not signature_verify(endpoint.secret, timestamp, request.body + b" ", header, 300)
    assert not signature_verify(endpoint.secret, int(timestamp) + 1, request.body, header, 300)
    too_late = int(timestamp) + 301
    assert not signature_verify(endpoint.secret, timestamp, request.body, header, 300, now=too_late)
    assert request.headers["X-FacePass-Event"] == "checkin.created"
    assert request.headers["X-FacePass-Delivery"] == str(delivery.pk)
    assert request.headers["Content-Type"] == "application/json"
    assert len(endpoint.secret) >= 40


@pytest.mark.django_db
def test_a_checkin_is_sent_as_compact_json_with_the_ticket_and_no_biometric_data(
    receiver, event_a, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(organization=event_a.organization, url=receiver.url)
    holder = holder_of(event_a)
    gate = event_a.gates.get(name="North")
    with django_capture_on_commit_callbacks(execute=False):
        checkin, created = checkin_record(
            gate=gate, outcome=GateOutcome("admit", "", holder, 0.97, None)
        )
    delivery = WebhookDelivery.objects.get()
    webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1)

    body = receiver.requests[0].body
    sent = json.loads(body)
    assert body == json.dumps(sent, separators=(",", ":"), ensure_ascii=False).encode()
    assert sent == {
        "id": str(delivery.event_id),
        "type": "checkin.created",
        "created": int(delivery.created_at.timestamp()),
        "data": {
            "checkin_id": checkin.pk,
            "event_id": event_a.pk,
            "gate_id": gate.pk,
            "decision": "admit",
            "reason": "",
            "holder": {"ticket_code": "T-7", "external_id": "crm-7"},
            "score": 0.97,
            "created_at": checkin.created_at.isoformat(),
        },
    }
    assert created and uuid.UUID(sent["id"])


@pytest.mark.django_db
def test_photo_results_are_sent_as_accepted_or_rejected_without_embeddings_or_images(
    event_a, default_model, receiver, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(organization=event_a.organization, url=receiver.url)
    holder = holder_of(event_a)
    good, bad = stored_photo(holder, blank_jpeg()), stored_photo(holder, blank_jpeg())
    vector = np.ones(default_model.dimensions, np.float32) / np.sqrt(default_model.dimensions)
    accepted = FaceResult(QualityVerdict(True, None, "", {"sharpness": 120.0}), vector)
    rejected = FaceResult(QualityVerdict(False, "no_face"), None)
    with django_capture_on_commit_callbacks(execute=False):
        enrollment_photo_record_result(photo=good, model=default_model, result=accepted)
        enrollment_photo_record_result(photo=bad, model=default_model, result=rejected)

    sent = {d.event_type: d.payload for d in WebhookDelivery.objects.all()}
    assert set(sent) == {"photo.accepted", "photo.rejected"}
    assert sent["photo.rejected"] == {
        "photo_id": bad.pk,
        "event_id": event_a.pk,
        "holder": {"ticket_code": "T-7", "external_id": "crm-7"},
        "status": "rejected",
        "rejection_code": "no_face",
        # The attendee's words for the code, from the one reason vocabulary.
        "rejection_message": reason_text("no_face", advice=True),
        "processed_at": sent["photo.rejected"]["processed_at"],
    }
    assert sent["photo.accepted"]["status"] == "accepted"
    assert sent["photo.accepted"]["photo_id"] == good.pk
    text = json.dumps(sent)
    for biometric in ("embedding", "vector", "quality", "sharpness", "face_box", "image", ".jpg"):
        assert biometric not in text


@pytest.mark.django_db
def test_a_receiver_failing_twice_then_answering_gets_three_attempts_with_growing_delays(
    receiver, org_a, fast_backoff, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(organization=org_a, url=receiver.url)
    receiver.failures_left = 2
    [delivery] = emit(org_a, django_capture_on_commit_callbacks)

    assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1) == 10
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    assert attempt_until_done(delivery, 2) == [20]

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    assert delivery.last_error == "" and delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    bodies = {r.body for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(bodies) == 1  # the same event each time


@pytest.mark.django_db
def test_a_receiver_that_is_down_is_marked_failed_after_the_last_attempt(
    closed_port_url, org_a, fast_backoff, django_capture_on_commit_callbacks
):
    fast_backoff.FACEPASS_WEBHOOK_MAX_ATTEMPTS = 4
    webhook_endpoint_create(organization=org_a, url=closed_port_url)
    [delivery] = emit(org_a, django_capture_on_commit_callbacks)

    assert attempt_until_done(delivery) == [10, 20, 40]
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 4, None)
    assert delivery.last_status_code is None
    assert "refused" in delivery.last_error.lower()


@pytest.mark.django_db
def test_a_task_for_an_attempt_already_made_sends_nothing(
    receiver, org_a, fast_backoff, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(organization=org_a, url=receiver.url)
    receiver.failures_left = 1
    [delivery] = emit(org_a, django_capture_on_commit_callbacks)
    assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt=2) is None  # too early
    assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1) == 10
    assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1) is None  # redelivered
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)


@pytest.mark.django_db
def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(
    receiver, org_a, fast_backoff, django_capture_on_commit_callbacks
):
    fast_backoff.FACEPASS_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.failures_left, receiver.failure_status = 1, 302
    receiver.failure_headers = {"Location": "http://elsewhere.invalid/steal"}
    webhook_endpoint_create(organization=org_a, url=receiver.url)
    [delivery] = emit(org_a, django_capture_on_commit_callbacks)

    assert attempt_until_done(delivery) == []
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)
    assert "elsewhere.invalid/steal not followed" in delivery.last_error
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_inactive_endpoints_unsubscribed_types_and_other_organizations_get_nothing(
    receiver, org_a, org_b, django_capture_on_commit_callbacks
):
    every_type = webhook_endpoint_create(organization=org_a, url=f"{receiver.url}/all")
    checkins = webhook_endpoint_create(
        organization=org_a, url=f"{receiver.url}/c", event_types=["checkin.created"]
    )
    webhook_endpoint_create(
        organization=org_a, url=f"{receiver.url}/p", event_types=["photo.accepted"]
    )
    webhook_endpoint_create(organization=org_a, url=f"{receiver.url}/off", is_active=False)
    webhook_endpoint_create(organization=org_b, url=f"{receiver.url}/b")

    deliveries = emit(org_a, django_capture_on_commit_callbacks, "checkin.created")
    assert {d.endpoint for d in deliveries} == {every_type, checkins}
    assert len({d.event_id for d in deliveries}) == 1  # one event, one id for all receivers

    checkins.is_active = False  # switched off after the event was emitted
    checkins.save(update_fields=["is_active"])
    [late] = [d for d in deliveries if d.endpoint == checkins]
    assert webhook_delivery_attempt(delivery_id=late.pk, attempt=1) is None
    late.refresh_from_db()
    assert (late.status, late.last_error) == ("failed", "Endpoint is inactive; not sent.")
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_batch_of_events_looks_up_each_organizations_endpoints_once_and_writes_once(
    receiver, org_a, org_b, django_capture_on_commit_callbacks, django_assert_num_queries
):
    a_all = webhook_endpoint_create(organization=org_a, url=f"{receiver.url}/a")
    a_rejections = webhook_endpoint_create(
        organization=org_a, url=f"{receiver.url}/ar", event_types=["photo.rejected"]
    )
    b_all = webhook_endpoint_create(organization=org_b, url=f"{receiver.url}/b")
    events = [(org_a, "photo.accepted", {"photo_id": i}) for i in range(5)]
    events += [
        (org_a, "photo.rejected", {"photo_id": 5}),
        (org_b, "photo.accepted", {"photo_id": 6}),
    ]
    # Three (organization, event type) lookups and one INSERT for seven events.
    with django_capture_on_commit_callbacks(execute=False), django_assert_num_queries(4):
        deliveries = webhook_events_emit(events=events)
    sent = sorted((d.payload["photo_id"], d.endpoint_id, d.event_type) for d in deliveries)
    assert sent == sorted(
        [(i, a_all.pk, "photo.accepted") for i in range(5)]
        + [(5, a_all.pk, "photo.rejected"), (5, a_rejections.pk, "photo.rejected")]
        + [(6, b_all.pk, "photo.accepted")]
    )
    by_photo = {d.payload["photo_id"]: d.event_id for d in deliveries}
    assert len(set(by_photo.values())) == 7  # one event id per event, shared by its receivers
    assert WebhookDelivery.objects.count() == 8


@pytest.mark.django_db
def test_checkin_record_emits_checkin_created_once_for_an_idempotent_repeat(
    event_a, receiver, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(organization=event_a.organization, url=receiver.url)
    holder, gate = holder_of(event_a), event_a.gates.get(name="North")
    outcome = GateOutcome("admit", "", holder, 0.99, None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first, created = checkin_record(gate=gate, outcome=outcome, idempotency_key="k-1")
        repeat, created_again = checkin_record(gate=gate, outcome=outcome, idempotency_key="k-1")
        denied, _ = checkin_record(gate=gate, outcome=outcome)  # a new row: second entry

    assert (created, created_again, repeat.pk) == (True, False, first.pk)
    sent = [d.payload["checkin_id"] for d in WebhookDelivery.objects.order_by("created_at")]
    assert sent == [first.pk, denied.pk]
    queued = [c for c in callbacks if getattr(c, "func", None) is webhook_deliveries_queue]
    assert len(queued) == 2


@pytest.mark.django_db
def test_only_http_and_https_urls_and_known_event_types_are_accepted(org_a):
    for url in ("ftp://example.com/hooks", "javascript:alert(1)", "example.com/hooks"):
        with pytest.raises(ValidationError):
            webhook_endpoint_create(organization=org_a, url=url)
    with pytest.raises(ValidationError):
        webhook_endpoint_create(
            organization=org_a, url="https://example.com/h", event_types=["checkin.deleted"]
        )
    endpoint = webhook_endpoint_create(organization=org_a, url="https://example.com/h")
    other = webhook_endpoint_create(organization=org_a, url="https://example.com/h2")
    assert endpoint.secret != other.secret


@pytest.mark.django_db
def test_an_organizer_registers_an_endpoint_in_the_admin_and_gets_a_generated_secret(
    client_a, org_a, org_b
):
    add = reverse("admin:webhooks_webhookendpoint_add")
    form = client_a.get(add).content.decode()
    assert org_a.name in form and org_b.name not in form
    data = {
        "organization": org_a.pk,
        "url": "https://crm.alpha.example/facepass",
        "event_types": ["checkin.created", "photo.rejected"],
        "is_active": "on",
    }
    assert client_a.post(add, {**data, "url": "ftp://crm.alpha.example/"}).status_code == 200
    assert client_a.post(add, {**data, "organization": org_b.pk}).status_code == 200
    assert client_a.post(add, data).status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organization == org_a
    assert endpoint.event_types == ["checkin.created", "photo.rejected"]
    assert len(endpoint.secret) >= 40


@pytest.fixture
def failed_delivery_a(org_a, closed_port_url, fast_backoff, django_capture_on_commit_callbacks):
    fast_backoff.FACEPASS_WEBHOOK_MAX_ATTEMPTS = 1
    webhook_endpoint_create(organization=org_a, url=closed_port_url, description="Alpha CRM")
    [delivery] = emit(org_a, django_capture_on_commit_callbacks)
    attempt_until_done(delivery)
    assert delivery.status == "failed"
    return delivery


@pytest.mark.django_db
def test_deliveries_are_visible_in_the_admin_to_their_organizer_only(
    client, organizer_a, organizer_b, org_b, failed_delivery_a
):
    url = failed_delivery_a.endpoint.url
    # A second endpoint, so an endpoint filter listing every endpoint would be shown.
    webhook_endpoint_create(organization=org_b, url="https://beta.example/hooks")
    change = reverse("admin:webhooks_webhookdelivery_change", args=[failed_delivery_a.pk])
    client.force_login(organizer_a)
    page = client.get(reverse("admin:webhooks_webhookdelivery_changelist")).content.decode()
    assert url in page and "1 webhook delivery" in page
    detail = client.get(change).content.decode()
    assert "refused" in detail.lower() and "wörld" in detail
    endpoint_change = reverse(
        "admin:webhooks_webhookendpoint_change", args=[failed_delivery_a.endpoint_id]
    )
    endpoint_page = client.get(endpoint_change).content.decode()
    assert failed_delivery_a.endpoint.secret in endpoint_page
    assert "1 failed" in endpoint_page
    by_endpoint = client.get(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"endpoint__id__exact": failed_delivery_a.endpoint_id},
    )
    assert by_endpoint.status_code == 200 and "1 webhook delivery" in by_endpoint.content.decode()

    client.force_login(organizer_b)
    page = client.get(reverse("admin:webhooks_webhookdelivery_changelist")).content.decode()
    assert url not in page  # neither in the rows nor in the endpoint filter
    assert "0 webhook deliveries" in page
    assert client.get(change).status_code in (302, 403, 404)
    assert client.get(endpoint_change).status_code in (302, 403, 404)
    endpoints = client.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    assert url not in endpoints.content.decode()


@pytest.mark.django_db
def test_an_organizer_deletes_an_endpoint_together_with_its_delivery_log(
    client_a, failed_delivery_a
):
    delete = reverse("admin:webhooks_webhookendpoint_delete", args=[failed_delivery_a.endpoint_id])
    assert client_a.post(delete, {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_retry_now_gives_a_failed_delivery_another_attempt_once_the_receiver_is_back(
    client,
    organizer_a,
    organizer_b,
    failed_delivery_a,
    receiver,
    django_capture_on_commit_callbacks,
):
    changelist = reverse("admin:webhooks_webhookdelivery_changelist")
    action = {"action": "retry_now", "_selected_action": [failed_delivery_a.pk]}
    client.force_login(organizer_b)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(changelist, action)
    failed_delivery_a.refresh_from_db()
    assert failed_delivery_a.status == "failed"  # another organization cannot touch it

    client.force_login(organizer_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.post(changelist, action).status_code == 302
    failed_delivery_a.refresh_from_db()
    assert failed_delivery_a.status == "pending"
    [queued] = [c for c in callbacks if getattr(c, "func", None) is webhook_deliveries_queue]
    assert queued.args == ([(failed_delivery_a.pk, 2)],)

    endpoint = failed_delivery_a.endpoint
    endpoint.url = receiver.url  # the receiver is back, at its address
    endpoint.save(update_fields=["url"])
    assert webhook_delivery_attempt(delivery_id=failed_delivery_a.pk, attempt=2) is None
    failed_delivery_a.refresh_from_db()
    assert (failed_delivery_a.status, failed_delivery_a.attempts) == ("succeeded", 2)
    assert len(receiver.requests) == 1


@pytest.fixture
def webhook_worker(transactional_db):
    """A real Celery worker on the `default` queue with a 1 s backoff base and 3 attempts."""
    from tests.conftest import start_worker, stop_worker, wait_for_worker_heartbeat

    name = f"webhooks-{uuid.uuid4().hex[:8]}"
    proc = start_worker(
        "default",
        name,
        FACEPASS_WEBHOOK_BACKOFF_SECONDS="1",
        FACEPASS_WEBHOOK_MAX_ATTEMPTS="3",
        FACEPASS_WEBHOOK_TIMEOUT_SECONDS="3",
    )
    try:
        wait_for_worker_heartbeat(name)
        yield proc
    finally:
        stop_worker(proc)


def wait_until_settled(deliveries, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = set(
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list(
                "status", flat=True
            )
        )
        if "pending" not in statuses:
            return
        time.sleep(0.2)
    raise TimeoutError("webhook deliveries still pending")


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_with_backoff_until_answered_and_gives_up_on_a_dead_receiver(
    webhook_worker, receiver, closed_port_url, event_a
):
    flaky = webhook_endpoint_create(organization=event_a.organization, url=receiver.url)
    dead = webhook_endpoint_create(organization=event_a.organization, url=closed_port_url)
    receiver.failures_left = 2
    holder, gate = holder_of(event_a), event_a.gates.get(name="North")
    # Autocommit: checkin_record's own commit queues the deliveries for the worker.
    checkin_record(gate=gate, outcome=GateOutcome("admit", "", holder, 0.99, None))
    deliveries = list(WebhookDelivery.objects.all())
    wait_until_settled(deliveries)

    ok = WebhookDelivery.objects.get(endpoint=flaky)
    assert (ok.status, ok.attempts, ok.last_status_code) == ("succeeded", 3, 200)
    first, second, third = (r.at for r in receiver.requests)
    assert second - first >= 0.95 and third - second >= 1.95  # 1 s, then 2 s
    assert all(
        signature_verify(
            flaky.secret,
            r.headers["X-FacePass-Timestamp"],
            r.body,
            r.headers["X-FacePass-Signature"],
        )
        for r in receiver.requests
    )
    down = WebhookDelivery.objects.get(endpoint=dead)
    assert (down.status, down.attempts, down.last_status_code) == ("failed", 3, None)
    assert "refused" in down.last_error.lower()
