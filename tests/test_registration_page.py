"""The public registration page: link or ticket code + e-mail, consent, selfie, status, deletion."""

import html
import re
import time
from unittest.mock import patch

import pytest
from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import holder_from_registration_token, registration_path
from attendees.services import ticket_holder_create, ticket_holder_update
from common.reasons import Reason, reason_text
from enrollment.workflow import enrollment_process
from events.models import Event
from events.services import event_set_status
from recognition.models import FaceEmbedding
from tests.conftest import make_event
from tests.faces import blank_jpeg, consenting_holder, val_photo

LOOKUP_FAILED = "We could not find a ticket with this code and e-mail address. Please check both."

JSON = {"HTTP_ACCEPT": "application/json"}
VERSION = settings.FACEPASS_CONSENT_TEXT_VERSION

# What an attendee reads about a rejected photo: the advice of the reason vocabulary.
MESSAGES = {"no_face": reason_text(Reason.NO_FACE, advice=True)}


@pytest.fixture
def holder(event_a):
    return ticket_holder_create(
        event=event_a, ticket_code="R-1", name="Rita Register", email="Rita@Example.org"
    )


@pytest.fixture
def consented(event_a):
    return consenting_holder(event_a, "C-1", "Carl Consented")


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _errors(response) -> list[str]:
    return re.findall(r'class="error"[^>]*>([^<]+)<', _text(response))


def _url(name: str, holder, **kwargs) -> str:
    token = registration_path(holder).rstrip("/").rsplit("/", 1)[-1]
    return reverse(f"attendees:{name}", kwargs={"token": token, **kwargs})


def _upload(client, holder, data: bytes, name="selfie.jpg", **headers):
    photo = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return client.post(_url("photo-upload", holder), {"photo": photo}, **headers)


def _consent(client, holder, **fields):
    data = {"agree": "on", "text_version": settings.FACEPASS_CONSENT_TEXT_VERSION, **fields}
    return client.post(_url("consent", holder), data)


def test_a_valid_link_shows_the_consent_text_and_no_photo_form_before_consent(client, holder):
    response = client.get(registration_path(holder))
    page = _text(response)
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert "Alpha Cup Final" in page and "Rita Register" in page
    assert "biometric" in page and f"Consent text version {VERSION}" in page
    assert 'name="agree"' in page
    assert 'name="photo"' not in page


def test_a_tampered_link_is_refused_with_a_clear_message(client, holder, event_a):
    token = registration_path(holder).rstrip("/").rsplit("/", 1)[-1]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = client.get(reverse("attendees:register", kwargs={"token": forged}))
    assert response.status_code == 404
    assert "This registration link is not valid." in _text(response)
    other = ticket_holder_create(event=event_a, ticket_code="R-2", name="Other")
    swapped = f"{other.pk}:{token.partition(':')[2]}"
    response = client.get(reverse("attendees:status", kwargs={"token": swapped}), **JSON)
    assert response.status_code == 404 and response.json()["code"] == "link_invalid"


def test_an_expired_link_is_refused_with_a_clear_message(client, holder, settings):
    settings.FACEPASS_REGISTRATION_LINK_MAX_AGE = 3600
    two_hours_ago = signing.b62_encode(int(time.time()) - 7200)
    with patch.object(signing.TimestampSigner, "timestamp", return_value=two_hours_ago):
        link = registration_path(holder)
    response = client.get(link)
    assert response.status_code == 410
    assert "This registration link has expired." in _text(response)
    assert 'name="ticket_code"' in _text(response)  # a way on without the link


def test_ticket_code_and_email_lead_to_the_holders_link_whatever_the_email_case(client, holder):
    start = client.get(reverse("attendees:start"))
    assert start.status_code == 200 and 'name="ticket_code"' in _text(start)
    response = client.post(
        reverse("attendees:start"), {"ticket_code": "R-1", "email": " rita@EXAMPLE.org "}
    )
    assert response.status_code == 302
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert holder_from_registration_token(token) == holder
    assert "Rita Register" in _text(client.get(response["Location"]))


def test_the_same_ticket_code_at_two_events_finds_the_holder_by_email(client, holder, event_b):
    twin = ticket_holder_create(event=event_b, ticket_code="R-1", name="Beta", email="b@x.org")
    response = client.post(reverse("attendees:start"), {"ticket_code": "R-1", "email": "b@x.org"})
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert holder_from_registration_token(token) == twin


def test_a_wrong_code_and_a_wrong_email_get_the_same_message(client, holder):
    url = reverse("attendees:start")
    wrong_code = client.post(url, {"ticket_code": "R-9", "email": "rita@example.org"})
    wrong_email = client.post(url, {"ticket_code": "R-1", "email": "someone@example.org"})
    assert wrong_code.status_code == wrong_email.status_code == 400
    errors = [_errors(response) for response in (wrong_code, wrong_email)]
    assert errors[0] == errors[1] == [LOOKUP_FAILED]


def test_no_photo_is_taken_before_consent_and_consent_needs_the_tick(client, holder):
    refused = _upload(client, holder, val_photo(6, 0))
    assert refused.status_code == 400
    assert "Consent to biometric processing is required" in _text(refused)
    assert not EnrollmentPhoto.objects.filter(holder=holder).exists()
    unticked = _consent(client, holder, agree="")
    assert unticked.status_code == 400 and "Please tick the box" in _text(unticked)
    assert _consent(client, holder).status_code == 302
    holder.refresh_from_db()
    assert holder.consent_text_version == VERSION and holder.status == "consented"
    page = _text(client.get(registration_path(holder)))
    assert 'capture="user"' in page and 'accept="image/*"' in page
    assert "attendees/register.js" in page


def test_consent_to_an_outdated_text_version_is_not_recorded(client, holder):
    response = _consent(client, holder, text_version="2001-01")
    assert response.status_code == 400
    assert "The consent text has changed" in _text(response)
    holder.refresh_from_db()
    assert holder.consent_at is None


@pytest.mark.worker
@pytest.mark.slow
def test_a_real_face_is_accepted_end_to_end_by_the_worker(
    client, event_a, default_model, celery_worker_process
):
    holder = ticket_holder_create(event=event_a, ticket_code="W-1", name="Wendy Worker")
    assert _consent(client, holder).status_code == 302
    uploaded = _upload(client, holder, val_photo(6, 0), **JSON)
    assert uploaded.status_code == 201, uploaded.content
    assert uploaded.json()["checking"] is True
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = client.get(_url("status", holder)).json()
        if not state["checking"]:
            break
        time.sleep(0.5)
    assert [p["status"] for p in state["photos"]] == ["accepted"], state
    assert state["status"] == "enrolled"
    thumbnail = client.get(state["photos"][0]["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"


def test_without_javascript_an_upload_redirects_and_the_page_shows_it_being_checked(
    client, consented
):
    response = _upload(client, consented, val_photo(6, 0))
    assert response.status_code == 302 and response["Location"].endswith("#photos")
    page = _text(client.get(response["Location"]))
    assert "Photo received" in page and "Checking…" in page


def test_a_photo_without_a_usable_face_is_rejected_in_plain_words(client, consented, default_model):
    assert _upload(client, consented, blank_jpeg()).status_code == 302
    photo = EnrollmentPhoto.objects.get(holder=consented)
    enrollment_process(photo_ids=[photo.pk])
    state = client.get(_url("status", consented)).json()
    assert state["checking"] is False and state["status"] == "consented"
    assert state["photos"][0]["status"] == "rejected"
    assert state["photos"][0]["text"] == MESSAGES["no_face"]
    assert MESSAGES["no_face"] in _text(client.get(registration_path(consented)))


def test_bad_files_get_a_clear_error_and_earlier_photos_stay(client, consented, settings):
    assert _upload(client, consented, val_photo(6, 0)).status_code == 302
    not_image = _upload(client, consented, b"%PDF-1.4 this is a document", name="ticket.pdf")
    assert not_image.status_code == 400
    assert "This file is not a photo we can read" in _text(not_image)
    as_json = _upload(client, consented, b"hello", **JSON)
    assert as_json.status_code == 400 and "not a photo" in as_json.json()["message"]
    empty = _upload(client, consented, b"")
    assert empty.status_code == 400 and "The file is empty" in _text(empty)
    settings.FACEPASS_UPLOAD_MAX_BYTES = 2048
    too_large = _upload(client, consented, val_photo(6, 1))
    assert too_large.status_code == 400 and "larger than" in _text(too_large)
    assert EnrollmentPhoto.objects.filter(holder=consented).count() == 1


def test_the_photo_limit_holds_and_deleting_one_makes_room(
    client, consented, settings, django_capture_on_commit_callbacks
):
    settings.FACEPASS_MAX_PHOTOS_PER_HOLDER = 2
    for index in (0, 1):
        assert _upload(client, consented, val_photo(6, index)).status_code == 302
    third = _upload(client, consented, val_photo(6, 2))
    assert third.status_code == 400 and "At most 2 photos" in _text(third)
    state = client.get(_url("status", consented)).json()
    assert (state["photos_in_use"], state["can_upload"]) == (2, False)
    assert "You have 2 of 2 usable photos" in _text(client.get(registration_path(consented)))
    newest = EnrollmentPhoto.objects.filter(holder=consented).first()
    name = newest.image.name
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.post(_url("photo-delete", consented, photo_id=newest.pk))
    assert deleted.status_code == 302
    assert not newest.image.storage.exists(name)
    assert _upload(client, consented, val_photo(6, 2)).status_code == 302


def test_a_link_reaches_only_its_own_holders_photos(client, consented, enrolled):
    photo = enrolled.photos.get()
    thumbnail = client.get(_url("photo-thumbnail", consented, photo_id=photo.pk))
    assert thumbnail.status_code == 404
    deleted = client.post(_url("photo-delete", consented, photo_id=photo.pk))
    assert deleted.status_code == 404
    assert EnrollmentPhoto.objects.filter(pk=photo.pk).exists()


def test_deleting_biometric_data_removes_photos_embeddings_and_files(
    client, enrolled, django_capture_on_commit_callbacks
):
    photo = enrolled.photos.get()
    storage, name = photo.image.storage, photo.image.name
    assert storage.exists(name) and FaceEmbedding.objects.filter(holder=enrolled).exists()
    confirm = client.get(_url("biometrics-delete", enrolled))
    assert confirm.status_code == 200 and "csrfmiddlewaretoken" in _text(confirm)
    assert EnrollmentPhoto.objects.filter(holder=enrolled).exists()  # GET deletes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("biometrics-delete", enrolled))
    assert response.status_code == 302
    assert not EnrollmentPhoto.objects.filter(holder=enrolled).exists()
    assert not FaceEmbedding.objects.filter(holder=enrolled).exists()
    assert not storage.exists(name)
    enrolled.refresh_from_db()
    assert enrolled.consent_at is None and enrolled.status == "invited"
    page = _text(client.get(response["Location"]))
    assert "Deleted 1 photo and your face data" in page and 'name="agree"' in page


def test_a_revoked_ticket_gets_a_clear_message_and_takes_no_photo(client, consented):
    ticket_holder_update(holder=consented, status=TicketHolder.Status.REVOKED)
    page = _text(client.get(registration_path(consented)))
    assert "This ticket has been revoked" in page and 'name="photo"' not in page
    refused = _upload(client, consented, val_photo(6, 0))
    assert refused.status_code == 400 and "This ticket has been revoked" in _text(refused)
    assert not EnrollmentPhoto.objects.filter(holder=consented).exists()


def test_a_closed_event_takes_neither_consent_nor_photos(client, org_a):
    event = make_event(org_a, "Old Gala")
    early, late = (
        consenting_holder(event, "O-1"),
        ticket_holder_create(event=event, ticket_code="O-2", name="Late"),
    )
    event_set_status(event=event, status=Event.Status.CLOSED)
    assert "registration is closed" in _text(client.get(registration_path(late)))
    consent = _consent(client, late)
    assert consent.status_code == 400 and "registration is closed" in _text(consent)
    upload = _upload(client, early, val_photo(6, 0), **JSON)
    assert upload.status_code == 400 and "registration is closed" in upload.json()["message"]
    assert not EnrollmentPhoto.objects.filter(holder__event=event).exists()


def test_every_form_post_needs_the_csrf_token(consented):
    strict = Client(enforce_csrf_checks=True)
    page = _text(strict.get(registration_path(consented)))
    assert page.count("<form") == page.count('name="csrfmiddlewaretoken"') > 0
    assert strict.post(_url("photo-upload", consented), {}).status_code == 403
    assert strict.post(_url("biometrics-delete", consented)).status_code == 403
    assert strict.post(reverse("attendees:start"), {}).status_code == 403


def test_the_admin_change_page_shows_a_working_registration_link(client_a, holder):
    client_a.post(reverse("admin:attendees_ticketholder_act", args=[holder.pk, "link"]))
    page = _text(client_a.get(reverse("admin:attendees_ticketholder_change", args=[holder.pk])))
    assert "Registration link" in page
    link = re.search(r'value="(http://testserver/register/[^"]+)"', page).group(1)
    client_a.logout()
    assert "Rita Register" in _text(client_a.get(link.removeprefix("http://testserver")))
