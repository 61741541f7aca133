import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from checkins.gate import GateOutcome
from checkins.services import checkin_record
from events.models import CheckIn, Event, Gate
from tests.api.conftest import assert_error, b64, two_faces
from tests.faces import blank_jpeg, consenting_holder, val_photo

pytestmark = pytest.mark.django_db

URL = "/api/v1/checkins/"
SAME_PERSON, STRANGER = (6, 1), (8, 0)


def gate_of(event, mode=Gate.Mode.TICKET_AND_FACE) -> Gate:
    return event.gates.get(mode=mode)


def check_in(client, gate, image: bytes, ticket_code=None, key=None, multipart=False, **extra):
    body = {"gate": gate.pk, **extra}
    if ticket_code is not None:
        body["ticket_code"] = ticket_code
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    if multipart:
        body["image"] = SimpleUploadedFile("frame.jpg", image, content_type="image/jpeg")
        return client.post(URL, body, format="multipart", **headers)
    return client.post(URL, {**body, "image_base64": b64(image)}, format="json", **headers)


@pytest.mark.worker
def test_a_check_in_admits_once_and_a_repeated_key_replays_the_first_answer(
    api_a, enrolled, celery_worker_process
):
    gate = gate_of(enrolled.event)
    first = check_in(api_a, gate, val_photo(*SAME_PERSON), "E-1", key="scan-1", multipart=True)
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["decision"], body["holder"]["id"], body["gate"]) == ("admit", enrolled.pk, gate.pk)
    assert body["idempotency_key"] == "scan-1" and body["score"] > 0

    # The retry sends another frame: the first answer stands and nothing new is recorded.
    repeat = check_in(api_a, gate, val_photo(*STRANGER), "E-1", key="scan-1")
    assert (repeat.status_code, repeat.json()) == (201, body)
    assert repeat["Idempotent-Replayed"] == "true"
    assert CheckIn.objects.count() == 1

    again = check_in(api_a, gate, val_photo(*SAME_PERSON), "E-1", key="scan-2").json()
    assert (again["decision"], again["reason"]) == ("deny", "already_checked_in")
    face_only = gate_of(enrolled.event, Gate.Mode.FACE_ONLY)
    stranger = check_in(api_a, face_only, val_photo(*STRANGER)).json()
    assert (stranger["decision"], stranger["reason"], stranger["holder"]) == (
        "deny",
        "no_match",
        None,
    )
    assert CheckIn.objects.count() == 3

    assert_error(check_in(api_a, face_only, blank_jpeg()), 422, "no_face")
    assert_error(check_in(api_a, face_only, two_faces()), 422, "multiple_faces")
    assert CheckIn.objects.count() == 3  # unusable input records nothing


@pytest.mark.worker
def test_two_gates_checking_in_the_same_holder_at_once_admit_exactly_once(
    org_a, enrolled, celery_worker_process
):
    from tests.api.conftest import api_client

    event = enrolled.event
    attempts = [
        (gate_of(event), "E-1"),
        (gate_of(event, Gate.Mode.FACE_ONLY), None),
    ]
    clients = [api_client(org_a) for _ in attempts]
    barrier = threading.Barrier(len(attempts))
    results = []

    def scan(client, gate, ticket_code):
        try:
            barrier.wait()
            response = check_in(client, gate, val_photo(*SAME_PERSON), ticket_code)
            results.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=scan, args=(client, gate, code))
        for client, (gate, code) in zip(clients, attempts, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [201, 201], results
    decisions = sorted((body["decision"], body["reason"]) for _, body in results)
    assert decisions == [("admit", ""), ("deny", "already_checked_in")]
    assert CheckIn.objects.filter(attendee=enrolled, decision="admit").count() == 1


def test_a_repeated_key_at_a_closed_event_replays_without_face_work(api_a, event_a):
    # No gate worker runs: a closed event is denied before any face work, and the replay
    # must not need a worker either.
    Event.objects.filter(pk=event_a.pk).update(status=Event.Status.CLOSED)
    gate = gate_of(event_a)
    first = check_in(api_a, gate, val_photo(*SAME_PERSON), "E-1", key="k")
    repeat = check_in(api_a, gate, val_photo(*SAME_PERSON), "E-1", key="k")
    assert first.status_code == repeat.status_code == 201
    assert first.json() == repeat.json()
    assert (first.json()["decision"], first.json()["reason"]) == ("deny", "gates_not_open")
    assert "Idempotent-Replayed" not in first and repeat["Idempotent-Replayed"] == "true"
    assert CheckIn.objects.count() == 1


def test_a_replay_answers_from_the_record_even_when_the_gate_worker_has_gone(api_a, enrolled):
    gate = gate_of(enrolled.event)
    outcome = GateOutcome("admit", "", enrolled, 0.97)
    first, _ = checkin_record(gate=gate, outcome=outcome, idempotency_key="lost-response")
    replay = check_in(api_a, gate, val_photo(*SAME_PERSON), "E-1", key="lost-response")
    assert replay.status_code == 201, replay.json()
    assert (replay.json()["id"], replay.json()["decision"]) == (first.pk, "admit")
    assert CheckIn.objects.count() == 1


def test_with_no_gate_worker_a_check_in_answers_503_and_records_nothing(api_a, enrolled):
    response = check_in(api_a, gate_of(enrolled.event), val_photo(*SAME_PERSON), "E-1")
    assert "gate worker" in assert_error(response, 503, "unavailable")["message"]
    assert not CheckIn.objects.exists()


def test_bad_check_in_requests_get_their_own_4xx_and_record_nothing(
    api_a, event_a, event_b, org_a, settings
):
    from tests.conftest import make_event

    other = make_event(org_a, "Other Night")
    consenting_holder(other, "O-1")
    consenting_holder(event_a, "A-1")
    ticket_gate, face_only = gate_of(event_a), gate_of(event_a, Gate.Mode.FACE_ONLY)
    image = val_photo(*SAME_PERSON)
    settings.FACEPASS_UPLOAD_MAX_BYTES = len(image) + 1024

    assert_error(check_in(api_a, gate_of(event_b), image, "B-1"), 404, "not_found")
    wrong = check_in(api_a, ticket_gate, image, "A-1", event=other.pk)
    assert_error(wrong, 422, "wrong_event")
    no_code = assert_error(check_in(api_a, ticket_gate, image), 400, "invalid")
    assert "ticket_code" in no_code["fields"]
    assert_error(check_in(api_a, ticket_gate, image, "NOPE"), 422, "unknown_ticket")
    assert_error(check_in(api_a, ticket_gate, image, "O-1"), 422, "other_event")
    assert_error(check_in(api_a, face_only, b"not an image at all"), 400, "not_an_image")
    assert_error(check_in(api_a, face_only, image + b"\0" * 2048), 413, "too_large")
    bad_b64 = api_a.post(URL, {"gate": face_only.pk, "image_base64": "%%%"}, format="json")
    assert_error(bad_b64, 400, "invalid_base64")
    long_key = check_in(api_a, face_only, image, key="k" * 101)
    assert "Idempotency-Key" in assert_error(long_key, 400, "invalid")["fields"]
    assert "gate" in assert_error(api_a.post(URL, {}, format="json"), 400, "invalid")["fields"]
    burst = {"gate": face_only.pk, "images_base64": ["", b64(image)]}
    nested = assert_error(api_a.post(URL, burst, format="json"), 400, "invalid")["fields"]
    # An error of one frame of a burst keeps the documented shape: a list of strings.
    assert all(isinstance(text, str) for text in nested["images_base64"]), nested
    assert nested["images_base64"][0].startswith("0: ")
    Gate.objects.filter(pk=face_only.pk).update(is_active=False)
    assert_error(check_in(api_a, face_only, image), 409, "gate_inactive")
    assert not CheckIn.objects.exists()


def _record(gate, decision, holder=None, minutes_ago=0):
    checkin, _ = checkin_record(gate=gate, outcome=GateOutcome(decision, "", holder, 0.9))
    CheckIn.objects.filter(pk=checkin.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return checkin


def test_the_check_in_log_filters_by_event_gate_decision_and_time_within_the_organization(
    api_a, event_a, event_b, org_a
):
    from tests.conftest import make_event

    second = make_event(org_a, "Second Night")
    second_gate = Gate.objects.create(event=second, name="West")
    ticket_gate, face_only = gate_of(event_a), gate_of(event_a, Gate.Mode.FACE_ONLY)
    holder = consenting_holder(event_a, "A-1", "Ana")
    old = _record(ticket_gate, "admit", holder, minutes_ago=120)
    recent = _record(face_only, "deny", minutes_ago=10)
    elsewhere = _record(second_gate, "review", minutes_ago=5)
    other_org = _record(gate_of(event_b), "admit", minutes_ago=1)

    def ids(**query):
        response = api_a.get(URL, query)
        assert response.status_code == 200, response.json()
        return [c["id"] for c in response.json()["results"]]

    assert ids() == [elsewhere.pk, recent.pk, old.pk]
    assert ids(event=event_a.pk) == [recent.pk, old.pk]
    assert ids(gate=ticket_gate.pk) == [old.pk]
    assert ids(decision="deny") == [recent.pk]
    since = (timezone.now() - timedelta(minutes=60)).isoformat()
    until = (timezone.now() - timedelta(minutes=7)).isoformat()
    assert ids(since=since) == [elsewhere.pk, recent.pk]
    assert ids(since=since, until=until) == [recent.pk]
    assert ids(event=event_b.pk) == [] and ids(gate=gate_of(event_b).pk) == []

    page = api_a.get(URL, {"page_size": 2}).json()
    assert (page["count"], len(page["results"])) == (3, 2) and page["next"]
    detail = api_a.get(f"{URL}{old.pk}/").json()
    assert (detail["holder"]["ticket_code"], detail["decision"]) == ("A-1", "admit")
    assert_error(api_a.get(f"{URL}{other_org.pk}/"), 404, "not_found")
    assert_error(api_a.get(URL, {"decision": "maybe"}), 400, "invalid")
    assert_error(api_a.get(URL, {"since": until, "until": since}), 400, "invalid")
    assert_error(APIClient().get(URL), 401, "not_authenticated")
