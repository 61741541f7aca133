"""Privacy guarantees: consent before any processing, gate frames only when an event keeps them,
the retention purge, the attendee's export and deletion, and an event's deletion at once.
"Gone" is checked in the database and in the private storage directory."""

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import registration_token_make
from audit.models import AuditEntry
from checkins import services as checkin_services
from checkins.gate import GateOutcome
from checkins.services import checkin_record
from enrollment.workflow import enrollment_process
from events.models import CheckIn, CheckInFrame, Event
from events.services import event_update
from privacy.services import biometrics_purge_expired, event_biometrics_delete
from recognition import inference
from recognition.models import FaceEmbedding
from tests.api.conftest import api_client
from tests.conftest import make_event
from tests.faces import blank_jpeg, consenting_holder, stored_photo, val_photo

pytestmark = pytest.mark.django_db


def private_files(folder: str) -> set[str]:
    """What is on disk in one folder of the private storage."""
    root = Path(settings.FACEPASS_PRIVATE_MEDIA_ROOT) / folder
    return {f"{folder}/{p.name}" for p in root.glob("*")} if root.exists() else set()


def on_disk(name: str) -> bool:
    return bool(name) and (Path(settings.FACEPASS_PRIVATE_MEDIA_ROOT) / name).exists()


def face_data(holder, model) -> EnrollmentPhoto:
    """An accepted photo (file on disk) with its embedding, without running a model."""
    photo = stored_photo(holder, blank_jpeg())
    photo.status = EnrollmentPhoto.Status.ACCEPTED
    photo.quality = {"sharpness": 120.0}
    photo.save(update_fields=["status", "quality"])
    vector = np.full(128, 1 / np.sqrt(128), np.float32)
    FaceEmbedding.objects.create(
        photo=photo, model=model, event_id=holder.event_id, holder=holder, vector=vector
    )
    TicketHolder.objects.filter(pk=holder.pk).update(status=TicketHolder.Status.ENROLLED)
    return photo


def attempt(holder, gate=None, decision="deny", reason="face_mismatch") -> CheckIn:
    gate = gate or holder.event.gates.get(mode="ticket_face")
    return checkin_record(gate=gate, outcome=GateOutcome(decision, reason, holder=holder))[0]


def kept_frame(checkin, expires_in=timedelta(hours=6)) -> CheckInFrame:
    frame = CheckInFrame(checkin=checkin, expires_at=timezone.now() + expires_in)
    frame.image.save("frame.jpg", ContentFile(blank_jpeg()))
    return frame


def ended_event(org, name, days_ago, retention_days=7):
    now = timezone.now()
    return make_event(
        org,
        name,
        starts_at=now - timedelta(days=days_ago, hours=3),
        ends_at=now - timedelta(days=days_ago),
        status=Event.Status.CLOSED,
        biometric_retention_days=retention_days,
    )


def _upload(name="selfie.jpg"):
    return SimpleUploadedFile(name, val_photo(6, 0), content_type="image/jpeg")


# --- Consent ----------------------------------------------------------------------------------


def test_no_entry_point_stores_a_photo_before_consent(client, event_a, org_a):
    holder = TicketHolder.objects.create(event=event_a, ticket_code="N-1", name="No Consent")
    before = private_files("enrollment")
    token = registration_token_make(holder)

    page = client.post(reverse("attendees:photo-upload", args=[token]), {"photo": _upload()})
    assert page.status_code == 400
    api = api_client(org_a).post(
        f"/api/v1/events/{event_a.pk}/holders/{holder.pk}/photos/",
        {"image": _upload()},
        format="multipart",
    )
    assert api.status_code == 409 and api.json()["code"] == "consent_required"

    assert not EnrollmentPhoto.objects.filter(holder=holder).exists()
    assert private_files("enrollment") == before


def test_the_worker_rejects_unseen_and_deletes_a_photo_whose_consent_was_withdrawn(
    event_a, default_model, monkeypatch, django_capture_on_commit_callbacks
):
    holder = consenting_holder(event_a, "W-1", "Withdrawn")
    photo = stored_photo(holder, val_photo(6, 0))
    assert on_disk(photo.image.name)
    TicketHolder.objects.filter(pk=holder.pk).update(consent_at=None)

    def must_not_look(model, images):
        pytest.fail("a face without consent reached the model")

    monkeypatch.setattr(inference, "enroll_images", must_not_look)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_process(photo_ids=[photo.pk])

    name = photo.image.name
    photo.refresh_from_db()
    assert (photo.status, photo.rejection_code, photo.image.name) == (
        "rejected",
        "consent_required",
        "",
    )
    assert not on_disk(name)
    assert not FaceEmbedding.objects.filter(photo_id=photo.pk).exists()
    entry = AuditEntry.objects.get(action="photo_delete", target_id=str(photo.pk))
    assert entry.actor_label == "system: enrollment worker"
    assert entry.details["reason"] == "consent_required"


# --- Gate frames --------------------------------------------------------------------------------


@pytest.fixture
def decided(monkeypatch, event_a):
    """Gate decisions without a worker: every check denies the holder E-1."""
    holder = consenting_holder(event_a, "E-1", "Eve")
    outcome = GateOutcome("deny", "face_mismatch", holder=holder)
    # One service decides for the page and the API alike.
    monkeypatch.setattr(checkin_services, "gate_decide", lambda **kwargs: outcome)
    return holder


def _gate_check(client, gate, frames, key=None):
    files = [
        SimpleUploadedFile(f"f{i}.jpg", data, content_type="image/jpeg")
        for i, data in enumerate(frames)
    ]
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"ticket_code": "E-1", "frames": files}
    return client.post(reverse("gate-check", args=[gate.pk]), body, **headers)


def test_with_zero_retention_hours_no_gate_frame_is_written_anywhere(
    client_a, event_a, org_a, decided
):
    assert event_a.dispute_frame_retention_hours == 0  # the default
    gate = event_a.gates.get(mode="ticket_face")
    before = private_files("gate_frames")

    assert _gate_check(client_a, gate, [val_photo(6, 1), val_photo(6, 2)]).status_code == 200
    api = api_client(org_a).post(
        "/api/v1/checkins/",
        {"gate": gate.pk, "ticket_code": "E-1", "image": _upload()},
        format="multipart",
    )
    assert api.status_code == 201, api.content

    assert CheckIn.objects.filter(event=event_a).count() == 2
    assert not CheckInFrame.objects.exists()
    assert private_files("gate_frames") == before


def test_with_retention_hours_the_frames_of_each_recorded_check_in_are_kept_privately(
    client_a, event_a, org_a, decided
):
    event_update(event=event_a, dispute_frame_retention_hours=6)
    gate = event_a.gates.get(mode="ticket_face")
    frames = [val_photo(6, 1), val_photo(6, 2)]

    result = _gate_check(client_a, gate, frames, key="scan-1").json()
    _gate_check(client_a, gate, frames, key="scan-1")  # a replay keeps nothing new
    api = api_client(org_a).post(
        "/api/v1/checkins/",
        {"gate": gate.pk, "ticket_code": "E-1", "image": _upload()},
        format="multipart",
    )

    page_frames = CheckInFrame.objects.filter(checkin_id=result["checkin_id"])
    api_frames = CheckInFrame.objects.filter(checkin_id=api.json()["id"])
    assert (page_frames.count(), api_frames.count(), CheckInFrame.objects.count()) == (2, 1, 3)
    for frame in CheckInFrame.objects.all():
        assert frame.image.name.startswith("gate_frames/") and on_disk(frame.image.name)
        assert "E-1" not in frame.image.name  # random names reveal nobody
        hours = (frame.expires_at - frame.created_at).total_seconds() / 3600
        assert 5.99 < hours <= 6.0
    with page_frames.first().image.open("rb") as fh:
        assert fh.read() == frames[0]


def test_an_organizer_views_a_kept_frame_in_the_admin_and_no_one_else_does(
    client, organizer_a, organizer_b, event_a
):
    checkin = attempt(consenting_holder(event_a, "E-1"))
    frame = kept_frame(checkin)
    page_url = reverse("admin:events_checkin_change", args=[checkin.pk])
    frame_url = reverse("admin:events_checkin_frame", args=[checkin.pk, frame.pk])

    assert client.get(frame_url).status_code == 302  # anonymous: to the login page
    client.force_login(organizer_a)
    assert frame_url in client.get(page_url).content.decode()
    image = client.get(frame_url)
    assert (image.status_code, image["Content-Type"]) == (200, "image/jpeg")
    assert "private" in image["Cache-Control"] and "no-store" in image["Cache-Control"]

    client.force_login(organizer_b)
    assert client.get(frame_url).status_code == 404

    client.force_login(organizer_a)
    CheckInFrame.objects.filter(pk=frame.pk).update(expires_at=timezone.now())
    assert client.get(frame_url).status_code == 404  # expired frames are not shown


# --- Retention purge ----------------------------------------------------------------------------


@pytest.fixture
def three_events(org_a, event_a, default_model):
    """Face data of an event past retention, one within it, and a running one."""
    old = ended_event(org_a, "Old Cup", days_ago=10)  # 10 days ago > 7 days retention
    recent = ended_event(org_a, "Recent Cup", days_ago=2)
    data = {}
    for event in (old, recent, event_a):
        if not event.gates.exists():
            event.gates.create(name="North", mode="ticket_face")
        holder = consenting_holder(event, "P-1", "Pat")
        photo = face_data(holder, default_model)
        frame = kept_frame(attempt(holder), expires_in=timedelta(days=30))
        data[event.slug] = {"event": event, "holder": holder, "photo": photo, "frame": frame}
    return data


def _gone(item) -> bool:
    photo, frame = item["photo"], item["frame"]
    rows = (
        EnrollmentPhoto.objects.filter(pk=photo.pk).exists()
        or FaceEmbedding.objects.filter(photo_id=photo.pk).exists()
        or CheckInFrame.objects.filter(pk=frame.pk).exists()
    )
    files = on_disk(photo.image.name) or on_disk(frame.image.name)
    assert rows == files, "rows and files must go together"
    return not rows


def test_the_purge_deletes_face_data_of_events_past_retention_only(
    three_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        totals = biometrics_purge_expired()

    assert totals == {"events": 1, "photos": 1, "embeddings": 1, "gate_frames": 1}
    assert _gone(three_events["old-cup"])
    assert not _gone(three_events["recent-cup"]) and not _gone(three_events["alpha-cup-final"])
    holder = three_events["old-cup"]["holder"]
    holder.refresh_from_db()
    assert (holder.consent_at, holder.status) == (None, TicketHolder.Status.INVITED)
    assert CheckIn.objects.filter(event=three_events["old-cup"]["event"]).exists()  # the log stays

    entry = AuditEntry.objects.get(action="retention_purge")
    assert (entry.actor_label, entry.target_id) == (
        "system: retention purge",
        str(three_events["old-cup"]["event"].pk),
    )
    assert entry.organization == holder.event.organization and entry.details["photos"] == 1

    assert biometrics_purge_expired() == {
        "events": 0,
        "photos": 0,
        "embeddings": 0,
        "gate_frames": 0,
    }
    assert AuditEntry.objects.filter(action="retention_purge").count() == 1


def test_expired_gate_frames_are_purged_while_live_ones_stay(
    event_a, django_capture_on_commit_callbacks
):
    checkin = attempt(consenting_holder(event_a, "E-1"))
    expired = kept_frame(checkin, expires_in=timedelta(seconds=-1))
    live = kept_frame(checkin, expires_in=timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert biometrics_purge_expired()["gate_frames"] == 1

    assert not CheckInFrame.objects.filter(pk=expired.pk).exists()
    assert not on_disk(expired.image.name)
    assert CheckInFrame.objects.filter(pk=live.pk).exists() and on_disk(live.image.name)
    entry = AuditEntry.objects.get(action="retention_purge")
    assert entry.details == {"gate_frames": 1, "reason": "dispute frame retention ended"}


def test_the_purge_command_counts_on_a_dry_run_then_deletes(
    three_events, django_capture_on_commit_callbacks
):
    out = StringIO()
    call_command("purge_biometrics", "--dry-run", stdout=out)
    assert "Would delete: 1 photos, 1 embeddings and 1 gate frames (1 events" in out.getvalue()
    assert not _gone(three_events["old-cup"])
    assert not AuditEntry.objects.filter(action="retention_purge").exists()

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_biometrics", stdout=out)
    assert out.getvalue().startswith("Deleted: 1 photos, 1 embeddings and 1 gate frames")
    assert _gone(three_events["old-cup"])


def test_celery_beat_runs_the_purge_hourly_on_the_default_queue(
    three_events, django_capture_on_commit_callbacks
):
    from facepass_site.celery import app

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("purge"))
    assert entry["schedule"] == 3600 and entry["options"]["queue"] == "default"
    assert settings.CELERY_TASK_ROUTES[entry["task"]] == {"queue": "default"}
    app.loader.import_default_modules()
    with django_capture_on_commit_callbacks(execute=True):
        result = app.tasks[entry["task"]].apply()
    assert result.get()["photos"] == 1
    assert _gone(three_events["old-cup"])


# --- The attendee's export and deletion -----------------------------------------------------------


@pytest.fixture
def pat(event_a, default_model):
    holder = consenting_holder(event_a, "P-1", "Pat Privacy")
    TicketHolder.objects.filter(pk=holder.pk).update(email="pat@example.org")
    photo = face_data(holder, default_model)
    rejected = stored_photo(holder, blank_jpeg())
    EnrollmentPhoto.objects.filter(pk=rejected.pk).update(
        status="rejected", rejection_code="no_face", rejection_message="No face found."
    )
    checkin = attempt(holder)
    kept_frame(checkin)
    holder.refresh_from_db()
    return holder, photo, checkin


def _check_export(data, holder, model):
    assert data["ticket_holder"]["ticket_code"] == "P-1"
    assert data["ticket_holder"]["email"] == "pat@example.org"
    assert data["consent"]["given_at"] == holder.consent_at.isoformat()
    assert data["consent"]["text_version"] == "2026-11"
    accepted, rejected = sorted(data["photos"], key=lambda p: p["status"])
    assert accepted["face_templates"] == {"count": 1, "model_versions": [model.label]}
    assert accepted["quality"] == {"sharpness": 120.0} and accepted["uploaded_at"]
    assert (rejected["rejection_code"], rejected["face_templates"]["count"]) == ("no_face", 0)
    [checkin] = data["check_ins"]
    assert (checkin["gate"], checkin["decision"], checkin["frames_kept"]) == ("North", "deny", 1)
    text = json.dumps(data)
    assert "vector" not in text and "0.0883" not in text  # never the template's numbers


def test_an_attendee_downloads_their_data_as_json_from_their_link(client, pat, default_model):
    holder, _, _ = pat
    token = registration_token_make(holder)
    page = client.get(reverse("attendees:register", args=[token])).content.decode()
    url = reverse("attendees:data-export", args=[token])
    assert url in page and "Download my data (JSON)" in page

    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    _check_export(response.json(), holder, default_model)
    entry = AuditEntry.objects.get(action="data_export")
    assert (entry.actor_label, entry.target_repr) == ("attendee (registration link)", "ticket P-1")


def test_the_api_exports_a_holder_of_its_own_organization_only(
    pat, event_a, org_a, org_b, default_model
):
    holder, _, _ = pat
    url = f"/api/v1/events/{event_a.pk}/holders/{holder.pk}/export/"
    response = api_client(org_a).get(url)
    assert response.status_code == 200, response.content
    _check_export(response.json(), holder, default_model)
    assert api_client(org_b).get(url).status_code == 404
    [entry] = AuditEntry.objects.filter(action="data_export")
    assert entry.actor_label.startswith("api key fp_") and entry.organization == org_a


def test_an_attendee_deleting_their_face_data_leaves_no_row_or_file(
    client, pat, django_capture_on_commit_callbacks
):
    holder, photo, checkin = pat
    names = list(EnrollmentPhoto.objects.filter(holder=holder).values_list("image", flat=True))
    names += list(CheckInFrame.objects.filter(checkin=checkin).values_list("image", flat=True))
    assert len(names) == 3 and all(on_disk(n) for n in names)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("attendees:biometrics-delete", args=[registration_token_make(holder)])
        )
    assert response.status_code == 302

    assert not any(on_disk(n) for n in names)
    assert not EnrollmentPhoto.objects.filter(holder=holder).exists()
    assert not FaceEmbedding.objects.filter(holder=holder).exists()
    assert not CheckInFrame.objects.filter(checkin__attendee=holder).exists()
    holder.refresh_from_db()
    assert (holder.consent_at, holder.status) == (None, TicketHolder.Status.INVITED)
    assert CheckIn.objects.filter(pk=checkin.pk).exists()  # the check-in log stays
    entry = AuditEntry.objects.get(action="holder_biometrics_delete")
    assert entry.details == {"photos": 2, "embeddings": 1, "gate_frames": 1}


# --- An event's biometric data at once ------------------------------------------------------------


@pytest.fixture
def two_events_with_faces(org_a, event_a, default_model):
    other = make_event(org_a, "Other Night")
    other.gates.create(name="North", mode="ticket_face")
    kept = face_data(consenting_holder(other, "K-1"), default_model)
    holders = [consenting_holder(event_a, f"H-{i}") for i in range(3)]
    photos = [face_data(h, default_model) for h in holders]
    frame = kept_frame(attempt(holders[0]))
    TicketHolder.objects.filter(pk=holders[2].pk).update(status=TicketHolder.Status.REVOKED)
    return {"photos": photos, "frame": frame, "kept": kept}


def test_an_organizer_deletes_all_biometric_data_of_an_event_after_confirming(
    client_a, event_a, organizer_a, two_events_with_faces, django_capture_on_commit_callbacks
):
    url = reverse("admin:events_event_changelist")
    action = {"action": "delete_biometric_data", "_selected_action": [event_a.pk]}
    names = [p.image.name for p in two_events_with_faces["photos"]]
    names.append(two_events_with_faces["frame"].image.name)

    confirm = client_a.post(url, action)
    assert confirm.status_code == 200
    assert "Yes, delete all biometric data" in confirm.content.decode()
    assert all(on_disk(n) for n in names)  # asking deletes nothing

    with django_capture_on_commit_callbacks(execute=True):
        done = client_a.post(url, {**action, "post": "yes"})
    assert done.status_code == 302

    assert not any(on_disk(n) for n in names)
    assert not EnrollmentPhoto.objects.filter(holder__event=event_a).exists()
    assert not FaceEmbedding.objects.filter(event=event_a).exists()
    assert not CheckInFrame.objects.filter(checkin__event=event_a).exists()
    statuses = set(event_a.ticket_holders.values_list("status", "consent_at"))
    assert statuses == {("invited", None), ("revoked", None)}
    kept = two_events_with_faces["kept"]
    assert on_disk(kept.image.name) and FaceEmbedding.objects.filter(photo=kept).exists()
    entry = AuditEntry.objects.get(action="event_biometrics_delete")
    assert (entry.actor, entry.target_id) == (organizer_a, str(event_a.pk))
    assert entry.details["photos"] == 3 and entry.details["gate_frames"] == 1


def test_another_organization_cannot_delete_the_event_biometric_data(
    client, organizer_b, event_a, two_events_with_faces
):
    client.force_login(organizer_b)
    client.post(
        reverse("admin:events_event_changelist"),
        {"action": "delete_biometric_data", "_selected_action": [event_a.pk], "post": "yes"},
    )
    assert EnrollmentPhoto.objects.filter(holder__event=event_a).count() == 3
    assert not AuditEntry.objects.filter(action="event_biometrics_delete").exists()


def test_deleting_an_event_takes_the_same_statements_for_3_or_30_holders(org_a, default_model):
    queries = []
    for size in (3, 30):
        event = make_event(org_a, f"Size {size}")
        for i in range(size):
            face_data(consenting_holder(event, f"S-{i}"), default_model)
        with CaptureQueriesContext(connection) as captured:
            deleted = event_biometrics_delete(event=event)
        assert deleted["photos"] == deleted["embeddings"] == deleted["holders_reset"] == size
        queries.append(len(captured))
    assert queries[0] == queries[1]


def test_deleting_an_event_in_the_admin_removes_its_photo_files(
    client_a, org_a, default_model, django_capture_on_commit_callbacks
):
    event = make_event(org_a, "Cancelled")
    photo = face_data(consenting_holder(event, "C-1"), default_model)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(
            reverse("admin:events_event_delete", args=[event.pk]), {"post": "yes"}
        )
    assert response.status_code == 302, response.content[:500]
    assert not Event.objects.filter(pk=event.pk).exists()
    assert not on_disk(photo.image.name)
    assert AuditEntry.objects.filter(action="event_biometrics_delete").exists()


def test_an_organizer_deleting_a_holder_or_a_photo_in_the_admin_removes_the_files(
    client_a, organizer_a, event_a, default_model, django_capture_on_commit_callbacks
):
    keeps = consenting_holder(event_a, "A-1", "Ada")
    photo, other = face_data(keeps, default_model), stored_photo(keeps, blank_jpeg())
    leaves = consenting_holder(event_a, "A-2", "Abe")
    leaving_photo = face_data(leaves, default_model)
    form = {
        "event": event_a.pk,
        "ticket_code": "A-1",
        "name": "Ada",
        "status": "enrolled",
        "photos-TOTAL_FORMS": 2,
        "photos-INITIAL_FORMS": 2,
        "photos-0-id": other.pk,
        "photos-0-holder": keeps.pk,
        "photos-1-id": photo.pk,
        "photos-1-holder": keeps.pk,
        "photos-1-DELETE": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        change = client_a.post(
            reverse("admin:attendees_ticketholder_change", args=[keeps.pk]), form
        )
        delete = client_a.post(
            reverse("admin:attendees_ticketholder_delete", args=[leaves.pk]), {"post": "yes"}
        )
    assert (change.status_code, delete.status_code) == (302, 302), change.content[:3000]

    assert not on_disk(photo.image.name) and on_disk(other.image.name)
    assert list(keeps.photos.all()) == [other]
    assert not TicketHolder.objects.filter(pk=leaves.pk).exists()
    assert not on_disk(leaving_photo.image.name)
    actions = set(AuditEntry.objects.filter(actor=organizer_a).values_list("action", flat=True))
    assert actions == {"photo_delete", "holder_delete"}
