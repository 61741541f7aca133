import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from events.models import CheckIn, Event
from recognition.selectors import model_threshold
from tests.api.conftest import assert_error, b64, truncated_jpeg, two_faces
from tests.conftest import make_event
from tests.faces import blank_jpeg, consenting_holder, val_photo

pytestmark = pytest.mark.django_db

SAME_PERSON, STRANGER = (6, 1), (8, 0)


def verify(client, event, ticket_code, image: bytes, multipart=False):
    url = f"/api/v1/events/{event.pk}/verify/"
    if multipart:
        file = SimpleUploadedFile("probe.jpg", image, content_type="image/jpeg")
        return client.post(url, {"ticket_code": ticket_code, "image": file}, format="multipart")
    return client.post(url, {"ticket_code": ticket_code, "image_base64": b64(image)}, format="json")


def identify(client, event, image: bytes):
    url = f"/api/v1/events/{event.pk}/identify/"
    return client.post(url, {"image_base64": b64(image)}, format="json")


@pytest.mark.worker
def test_verify_and_identify_decide_like_a_gate_without_recording_a_check_in(
    api_a, enrolled, default_model, celery_worker_process
):
    event = enrolled.event
    # A ticketing system may check faces before the gates open.
    Event.objects.filter(pk=event.pk).update(status=Event.Status.REGISTRATION_OPEN)
    threshold = model_threshold(default_model, event.target_far)

    match = verify(api_a, event, "E-1", val_photo(*SAME_PERSON), multipart=True)
    assert match.status_code == 200, match.json()
    body = match.json()
    assert (body["decision"], body["reason"], body["holder"]["id"]) == ("admit", "", enrolled.pk)
    assert body["threshold"] == threshold and body["score"] >= threshold
    assert body["model"] == default_model.label

    mismatch = verify(api_a, event, "E-1", val_photo(*STRANGER)).json()
    assert (mismatch["decision"], mismatch["reason"]) == ("deny", "face_mismatch")
    assert mismatch["score"] < threshold and mismatch["message"]

    found = identify(api_a, event, val_photo(*SAME_PERSON)).json()
    assert (found["decision"], found["holder"]["ticket_code"]) == ("admit", "E-1")
    nobody = identify(api_a, event, val_photo(*STRANGER)).json()
    assert (nobody["decision"], nobody["reason"], nobody["holder"]) == ("deny", "no_match", None)

    assert_error(verify(api_a, event, "E-1", blank_jpeg()), 422, "no_face")
    assert_error(identify(api_a, event, two_faces()), 422, "multiple_faces")
    assert_error(verify(api_a, event, "E-1", truncated_jpeg()), 400, "truncated")
    assert not CheckIn.objects.exists()


@pytest.mark.worker
def test_the_threshold_follows_the_events_security_level_and_unenrolled_holders_are_denied(
    api_a, enrolled, default_model, celery_worker_process
):
    event = enrolled.event
    consenting_holder(event, "N-1", "No Photo")
    Event.objects.filter(pk=event.pk).update(security_level=Event.SecurityLevel.RELAXED)
    relaxed = verify(api_a, event, "E-1", val_photo(*STRANGER)).json()
    Event.objects.filter(pk=event.pk).update(security_level=Event.SecurityLevel.HIGH)
    high = verify(api_a, event, "E-1", val_photo(*STRANGER)).json()
    assert relaxed["threshold"] == model_threshold(default_model, "1e-2")
    assert high["threshold"] == model_threshold(default_model, "1e-4")
    assert relaxed["threshold"] < high["threshold"]
    unenrolled = verify(api_a, event, "N-1", val_photo(*SAME_PERSON)).json()
    assert (unenrolled["decision"], unenrolled["reason"]) == ("deny", "not_enrolled")


def test_unknown_tickets_and_tickets_of_another_event_are_422(api_a, event_a, event_b, org_a):
    consenting_holder(make_event(org_a, "Other Night"), "O-1")
    consenting_holder(event_b, "B-1")
    image = val_photo(*SAME_PERSON)
    assert_error(verify(api_a, event_a, "NOPE", image), 422, "unknown_ticket")
    assert_error(verify(api_a, event_a, "O-1", image), 422, "other_event")
    # Another organization's ticket is unknown here: nothing about it leaks.
    assert_error(verify(api_a, event_a, "B-1", image), 422, "unknown_ticket")


@pytest.mark.parametrize("endpoint", ["verify", "identify"])
def test_bad_images_are_refused_before_any_face_work(api_a, event_a, settings, endpoint):
    # No gate worker runs here: each answer comes from the web process alone.
    settings.FACEPASS_UPLOAD_MAX_BYTES = 4096
    url = f"/api/v1/events/{event_a.pk}/{endpoint}/"

    def send(**body):
        return api_a.post(url, {"ticket_code": "E-1", **body}, format="json")

    assert_error(send(image_base64=b64(b"GIF89a? no")), 400, "not_an_image")
    assert_error(send(image_base64="@@@@"), 400, "invalid_base64")
    assert_error(send(image_base64=b64(val_photo(6, 0))), 413, "too_large")
    assert_error(send(), 400, "invalid")
    file = SimpleUploadedFile("probe.jpg", blank_jpeg(), content_type="image/jpeg")
    body = {"ticket_code": "E-1", "image": file, "image_base64": b64(blank_jpeg())}
    both = api_a.post(url, body, format="multipart")
    assert "image" in assert_error(both, 400, "invalid")["fields"]


def test_verify_needs_a_ticket_code(api_a, event_a):
    response = api_a.post(
        f"/api/v1/events/{event_a.pk}/verify/", {"image_base64": b64(blank_jpeg())}, format="json"
    )
    assert "ticket_code" in assert_error(response, 400, "invalid")["fields"]


def test_with_no_gate_worker_verify_and_identify_answer_503(api_a, enrolled):
    for response in (
        verify(api_a, enrolled.event, "E-1", val_photo(*SAME_PERSON)),
        identify(api_a, enrolled.event, val_photo(*SAME_PERSON)),
    ):
        body = assert_error(response, 503, "unavailable")
        assert "gate worker" in body["message"]


def test_with_no_active_model_verify_answers_503(api_a, enrolled, default_model):
    type(default_model).objects.update(is_active=False)
    body = assert_error(
        identify(api_a, enrolled.event, val_photo(*SAME_PERSON)), 503, "unavailable"
    )
    assert "No face model is active" in body["message"]


def test_another_organizations_event_answers_404_and_a_bad_key_401(api_a, event_b):
    image = val_photo(*SAME_PERSON)
    assert_error(verify(api_a, event_b, "B-1", image), 404, "not_found")
    assert_error(identify(api_a, event_b, image), 404, "not_found")
    api_a.credentials(HTTP_AUTHORIZATION="Bearer fp_00000000_wrong")
    assert_error(identify(api_a, event_b, image), 401, "authentication_failed")
