from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import holder_from_registration_token
from attendees.services import ticket_holder_create
from tests.api.conftest import assert_error, b64, poll, truncated_jpeg
from tests.faces import blank_jpeg, consenting_holder, stored_photo, val_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def holder_a(event_a):
    return consenting_holder(event_a, "A-001", "Ana")


@pytest.fixture
def holder_b(event_b):
    return consenting_holder(event_b, "B-001", "Bea")


def holder_url(holder, suffix=""):
    return f"/api/v1/events/{holder.event_id}/holders/{holder.pk}/{suffix}"


def upload(client, holder, image: bytes, name="selfie.jpg"):
    file = SimpleUploadedFile(name, image, content_type="image/jpeg")
    return client.post(holder_url(holder, "photos/"), {"image": file}, format="multipart")


def upload_b64(client, holder, encoded: str):
    return client.post(holder_url(holder, "photos/"), {"image_base64": encoded}, format="json")


def test_a_registration_link_leads_to_the_holders_page_and_says_when_it_expires(api_a, holder_a):
    before = timezone.now()
    response = api_a.post(holder_url(holder_a, "registration-link/"))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["url"].startswith(settings.FACEPASS_PUBLIC_BASE_URL.rstrip("/") + "/")
    token = urlsplit(body["url"]).path.rstrip("/").rsplit("/", 1)[-1]
    assert holder_from_registration_token(token) == holder_a
    expires = parse_datetime(body["expires_at"])
    max_age = timedelta(seconds=settings.FACEPASS_REGISTRATION_LINK_MAX_AGE)
    assert before + max_age - timedelta(seconds=1) <= expires <= timezone.now() + max_age


def test_consent_is_recorded_with_the_text_version_the_ticketing_system_showed(api_a, event_a):
    holder = ticket_holder_create(event=event_a, ticket_code="A-002", name="Cy")
    response = api_a.post(
        holder_url(holder, "consent/"), {"text_version": "shop-v3"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["consent_text_version"]) == ("consented", "shop-v3")
    holder.refresh_from_db()
    assert holder.consent_at is not None
    missing = assert_error(
        api_a.post(holder_url(holder, "consent/"), {}, format="json"), 400, "invalid"
    )
    assert "text_version" in missing["fields"]


def test_a_revoked_ticket_gets_neither_a_link_nor_consent_nor_photos(api_a, holder_a):
    TicketHolder.objects.filter(pk=holder_a.pk).update(status=TicketHolder.Status.REVOKED)
    assert_error(api_a.post(holder_url(holder_a, "registration-link/")), 409, "ticket_revoked")
    consent = api_a.post(holder_url(holder_a, "consent/"), {"text_version": "v"}, format="json")
    assert_error(consent, 409, "ticket_revoked")
    assert_error(upload(api_a, holder_a, val_photo(6, 0)), 409, "ticket_revoked")


def test_a_photo_without_consent_is_refused(api_a, event_a):
    holder = ticket_holder_create(event=event_a, ticket_code="A-003", name="Di")
    assert_error(upload(api_a, holder, val_photo(6, 0)), 409, "consent_required")
    assert not EnrollmentPhoto.objects.exists()


def test_photos_arrive_as_multipart_or_base64_and_report_their_status(
    api_a, holder_a, django_capture_on_commit_callbacks
):
    image = val_photo(6, 0)
    with django_capture_on_commit_callbacks() as queued:
        as_file = upload(api_a, holder_a, image)
        as_json = upload_b64(api_a, holder_a, "data:image/jpeg;base64," + b64(image))
    assert len(queued) == 2  # each photo goes to the enrollment worker once committed
    for response in (as_file, as_json):
        assert response.status_code == 202, response.json()
        body = response.json()
        assert body["status"] == "pending"
        photo = EnrollmentPhoto.objects.get(pk=body["id"])
        assert photo.holder == holder_a
        with photo.image.open("rb") as fh:
            assert fh.read() == image
        status = api_a.get(body["status_url"])
        assert status.status_code == 200
        assert status.json()["id"] == photo.pk
        assert status.json()["rejection_code"] == ""
    listing = api_a.get(holder_url(holder_a, "photos/")).json()
    assert [p["id"] for p in listing["results"]] == [as_json.json()["id"], as_file.json()["id"]]


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (lambda c, h: upload(c, h, b"%PDF-1.4 not a photo", "cv.pdf"), 400, "not_an_image"),
        (lambda c, h: upload(c, h, b""), 400, "not_an_image"),
        (lambda c, h: upload(c, h, truncated_jpeg()), 400, "truncated"),
        (lambda c, h: upload_b64(c, h, "this is *not* base64!"), 400, "invalid_base64"),
        (lambda c, h: upload_b64(c, h, b64(b"plain text")), 400, "not_an_image"),
        (lambda c, h: upload(c, h, val_photo(6, 0) + b"\0" * 2048), 413, "too_large"),
        (lambda c, h: upload_b64(c, h, b64(val_photo(6, 0) + b"\0" * 2048)), 413, "too_large"),
        (lambda c, h: c.post(holder_url(h, "photos/"), {}, format="json"), 400, "invalid"),
        (
            lambda c, h: c.post(
                holder_url(h, "photos/"), "raw", content_type="application/octet-stream"
            ),
            415,
            "unsupported_media_type",
        ),
    ],
    ids=[
        "not-an-image",
        "empty-file",
        "truncated-jpeg",
        "malformed-base64",
        "base64-of-text",
        "too-large-file",
        "too-large-base64",
        "no-image",
        "octet-stream",
    ],
)
def test_bad_uploads_get_their_own_4xx_and_store_nothing(
    api_a, holder_a, settings, send, status, code
):
    settings.FACEPASS_UPLOAD_MAX_BYTES = len(val_photo(6, 0)) + 1024
    assert_error(send(api_a, holder_a), status, code)
    assert not EnrollmentPhoto.objects.exists()


def test_a_holder_has_a_limited_number_of_photos(api_a, holder_a, settings):
    settings.FACEPASS_MAX_PHOTOS_PER_HOLDER = 1
    assert upload(api_a, holder_a, val_photo(6, 0)).status_code == 202
    assert_error(upload(api_a, holder_a, val_photo(6, 1)), 409, "too_many_photos")


def test_deleting_a_photo_removes_its_file(api_a, holder_a, django_capture_on_commit_callbacks):
    photo = stored_photo(holder_a, val_photo(6, 0))
    storage, name = photo.image.storage, photo.image.name
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.delete(f"/api/v1/photos/{photo.pk}/")
    assert response.status_code == 204
    assert not EnrollmentPhoto.objects.filter(pk=photo.pk).exists()
    assert not storage.exists(name)
    assert_error(api_a.get(f"/api/v1/photos/{photo.pk}/"), 404, "not_found")


def test_deleting_biometrics_removes_every_photo_and_withdraws_consent(
    api_a, holder_a, django_capture_on_commit_callbacks
):
    photos = [stored_photo(holder_a, val_photo(6, i)) for i in (0, 1)]
    files = [(p.image.storage, p.image.name) for p in photos]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.delete(holder_url(holder_a, "biometrics/"))
    assert response.status_code == 200
    assert response.json() == {"deleted_photos": 2}
    assert not EnrollmentPhoto.objects.filter(holder=holder_a).exists()
    assert not any(storage.exists(name) for storage, name in files)
    holder_a.refresh_from_db()
    assert (holder_a.status, holder_a.consent_at) == ("invited", None)
    assert_error(upload(api_a, holder_a, val_photo(6, 0)), 409, "consent_required")


def test_another_organizations_holders_and_photos_answer_404_and_stay_untouched(
    api_a, holder_a, holder_b
):
    photo_b = stored_photo(holder_b, val_photo(6, 0))
    requests = [
        lambda: api_a.post(holder_url(holder_b, "registration-link/")),
        lambda: api_a.post(holder_url(holder_b, "consent/"), {"text_version": "v"}, format="json"),
        lambda: api_a.get(holder_url(holder_b, "photos/")),
        lambda: upload(api_a, holder_b, val_photo(6, 0)),
        lambda: api_a.delete(holder_url(holder_b, "biometrics/")),
        lambda: api_a.get(f"/api/v1/photos/{photo_b.pk}/"),
        lambda: api_a.delete(f"/api/v1/photos/{photo_b.pk}/"),
        # A holder of A's own organization, addressed through another event's URL:
        lambda: api_a.get(f"/api/v1/events/{holder_b.event_id}/holders/{holder_a.pk}/photos/"),
    ]
    for send in requests:
        assert_error(send(), 404, "not_found")
    assert EnrollmentPhoto.objects.filter(pk=photo_b.pk).exists()
    assert EnrollmentPhoto.objects.filter(holder=holder_b).count() == 1
    holder_b.refresh_from_db()
    assert holder_b.consent_text_version == "2026-11"


def test_photo_endpoints_need_a_valid_api_key(holder_a):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY="fp_deadbeef_nope")
    assert_error(upload(client, holder_a, val_photo(6, 0)), 401, "authentication_failed")
    assert_error(APIClient().get(holder_url(holder_a, "photos/")), 401, "not_authenticated")


@pytest.mark.worker
def test_the_enrollment_worker_processes_an_uploaded_photo_and_its_status_shows_the_result(
    api_a, holder_a, default_model, celery_worker_process
):
    def status_of(response):
        url = response.json()["status_url"]
        return poll(
            lambda: api_a.get(url).json(), lambda s: s["status"] in ("accepted", "rejected")
        )

    face = status_of(upload(api_a, holder_a, val_photo(6, 0)))
    assert face["status"] == "accepted", face
    assert face["processed_at"] and face["quality"]["face_px"] > 0
    blank = status_of(upload_b64(api_a, holder_a, b64(blank_jpeg())))
    assert (blank["status"], blank["rejection_code"]) == ("rejected", "no_face")
    assert blank["rejection_message"]
    holder = api_a.get(holder_url(holder_a)).json()
    assert holder["status"] == "enrolled"


def _noise_jpeg(side: int) -> bytes:
    import cv2
    import numpy as np

    noise = np.random.default_rng(0).integers(0, 255, (side, side, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 98])[1].tobytes()


def test_a_photo_up_to_the_upload_limit_fits_in_base64_and_a_bigger_body_is_a_clear_413(
    api_a, holder_a, settings
):
    # Django caps request bodies other than files (DATA_UPLOAD_MAX_MEMORY_SIZE); the cap is
    # set so any photo under FACEPASS_UPLOAD_MAX_BYTES still fits as base64 JSON.
    image = _noise_jpeg(500)
    settings.FACEPASS_UPLOAD_MAX_BYTES = len(image) + 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = settings.FACEPASS_UPLOAD_MAX_BYTES * 4 // 3 + 64 * 1024
    assert upload_b64(api_a, holder_a, b64(image)).status_code == 202
    oversized = b64(image) * 2
    assert len(oversized) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    as_json = upload_b64(api_a, holder_a, oversized)
    assert "multipart" in assert_error(as_json, 413, "too_large")["message"]
    as_form_field = api_a.post(
        holder_url(holder_a, "photos/"), {"image_base64": oversized}, format="multipart"
    )
    assert_error(as_form_field, 413, "too_large")
    assert EnrollmentPhoto.objects.count() == 1
