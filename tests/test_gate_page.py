import logging
import zoneinfo

import cv2
import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone

from attendees.models import TicketHolder
from checkins import services as checkin_services
from checkins.gate import GateOutcome
from checkins.selectors import override_actions, standing_entries
from checkins.services import OverrideRefused, checkin_override, checkin_record
from events.models import CheckIn, Event, Membership
from events.services import event_set_status, event_update, gate_create, staff_user_create
from pages.gate import read_qr_code
from tests.conftest import make_event
from tests.faces import blank_jpeg, consenting_holder, val_photo


@pytest.fixture
def gate_staff(org_a):
    return staff_user_create(
        organization=org_a, username="gina", password="pw-gina-123", role=Membership.Role.GATE_STAFF
    )


def _frame(data: bytes, name="frame.jpg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_gate_staff_see_their_gates_and_the_check_in_page(client, gate_staff, event_a):
    client.force_login(gate_staff)
    listing = client.get(reverse("gate-list")).content.decode()
    gate = event_a.gates.get(mode="ticket_face")
    assert gate.name in listing
    page = client.get(reverse("gate-page", args=[gate.pk])).content.decode()
    assert 'id="preview"' in page and 'name="ticket_code"' in page


def test_staff_of_another_organization_cannot_open_or_use_the_gate(client, organizer_b, event_a):
    client.force_login(organizer_b)
    gate = event_a.gates.first()
    assert client.get(reverse("gate-page", args=[gate.pk])).status_code == 404
    response = client.post(reverse("gate-check", args=[gate.pk]), {"frames": _frame(b"x")})
    assert response.status_code == 404


def test_anonymous_users_are_sent_to_the_login_page(client, event_a):
    response = client.get(reverse("gate-page", args=[event_a.gates.first().pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_check_without_frames_is_a_clear_400(client, gate_staff, event_a):
    client.force_login(gate_staff)
    gate = event_a.gates.get(mode="face_only")
    response = client.post(reverse("gate-check", args=[gate.pk]))
    assert response.status_code == 400 and response.json()["code"] == "no_frames"


def test_with_no_gate_worker_the_check_answers_503(client, gate_staff, enrolled):
    client.force_login(gate_staff)
    gate = enrolled.event.gates.get(mode="face_only")
    response = client.post(
        reverse("gate-check", args=[gate.pk]), {"frames": _frame(val_photo(6, 1))}
    )
    assert response.status_code == 503
    assert "worker" in response.json()["message"]


def test_the_ticket_qr_code_is_read_from_the_camera_frame():
    qr = cv2.QRCodeEncoder.create().encode("E-1")
    qr = cv2.resize(qr, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    canvas = np.full((480, 640), 255, np.uint8)
    canvas[40 : 40 + qr.shape[0], 40 : 40 + qr.shape[1]] = qr
    frame = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))[1].tobytes()
    assert read_qr_code(frame) == "E-1"
    assert read_qr_code(b"garbage") == ""


@pytest.mark.worker
def test_the_page_admits_once_shows_the_holder_and_then_denies_a_second_entry(
    client,
    gate_staff,
    enrolled,
    celery_worker_process,
):
    client.force_login(gate_staff)
    gate = enrolled.event.gates.get(mode="ticket_face")
    url = reverse("gate-check", args=[gate.pk])
    first = client.post(url, {"ticket_code": "E-1", "frames": _frame(val_photo(6, 1))}).json()
    assert first["decision"] == "admit", first
    assert first["holder"]["name"] == "Eve Enrolled"
    photo = client.get(first["holder"]["photo_url"])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    again = client.post(url, {"ticket_code": "E-1", "frames": _frame(val_photo(6, 1))}).json()
    assert (again["decision"], again["reason"]) == ("deny", "already_checked_in")
    face_only = enrolled.event.gates.get(mode="face_only")
    stranger = client.post(
        reverse("gate-check", args=[face_only.pk]), {"frames": _frame(val_photo(8, 0))}
    ).json()
    assert (stranger["decision"], stranger["reason"]) == ("deny", "no_match")


# --- Staff overrides -----------------------------------------------------------------------


def _attempt(gate, holder, decision="deny", reason="face_mismatch", staff=None):
    """A recorded gate attempt without a worker: the decision itself is tested above."""
    outcome = GateOutcome(decision, reason, holder=holder)
    return checkin_record(gate=gate, outcome=outcome, staff_user=staff)[0]


@pytest.fixture
def eve(event_a):
    return consenting_holder(event_a, "E-1", "Eve Enrolled")


@pytest.fixture
def north(event_a):
    return event_a.gates.get(mode="ticket_face")


def test_an_override_is_its_own_row_linked_to_the_attempt_and_logged(
    north, eve, gate_staff, caplog
):
    attempt = _attempt(north, eve)
    with caplog.at_level(logging.INFO, logger="events.services"):
        override = checkin_override(
            checkin=attempt, decision="admit", reason="  Matches ID card  ", staff_user=gate_staff
        )
    assert override.pk != attempt.pk and override.overrides == attempt
    assert (override.decision, override.attendee, override.gate) == ("admit", eve, north)
    assert (override.staff_user, override.reason) == (gate_staff, "staff_override")
    assert override.reason_message == "Matches ID card"
    attempt.refresh_from_db()
    assert (attempt.decision, attempt.reason) == ("deny", "face_mismatch")  # the audit row stays
    assert f"check-in {attempt.pk} -> admit" in caplog.text and "gina" in caplog.text


@pytest.mark.parametrize(
    ("decision", "reason"), [("admit", ""), ("admit", "   "), ("review", "why"), ("x", "why")]
)
def test_an_override_needs_admit_or_deny_and_a_reason(north, eve, gate_staff, decision, reason):
    attempt = _attempt(north, eve)
    with pytest.raises(ValueError):
        checkin_override(checkin=attempt, decision=decision, reason=reason, staff_user=gate_staff)
    assert CheckIn.objects.filter(overrides=attempt).count() == 0


def test_admit_anyway_still_respects_single_entry(north, eve, gate_staff):
    _attempt(north, eve, "admit", "")
    later = _attempt(north, eve, "deny", "face_mismatch")
    with pytest.raises(OverrideRefused) as refused:
        checkin_override(checkin=later, decision="admit", reason="ok", staff_user=gate_staff)
    assert refused.value.code == "already_checked_in"
    assert not CheckIn.objects.filter(overrides=later).exists()


def test_admit_anyway_is_allowed_again_when_the_event_allows_re_entry(north, eve, gate_staff):
    event_update(event=north.event, entry_policy=Event.EntryPolicy.RE_ENTRY)
    _attempt(north, eve, "admit", "")
    later = _attempt(north, eve, "deny", "face_mismatch")
    override = checkin_override(checkin=later, decision="admit", reason="ok", staff_user=gate_staff)
    assert override.decision == "admit"


def test_a_deny_override_voids_a_wrong_admit_so_the_real_holder_can_enter(north, eve, gate_staff):
    wrong = _attempt(north, eve, "admit", "")
    checkin_override(checkin=wrong, decision="deny", reason="Not her", staff_user=gate_staff)
    assert not standing_entries(eve).exists()
    real = _attempt(north, eve, "admit", "")
    assert (real.decision, real.reason) == ("admit", "")
    assert list(standing_entries(eve)) == [real]
    # And the admitted holder is then denied a second entry as usual.
    again = _attempt(north, eve, "admit", "")
    assert (again.decision, again.reason) == ("deny", "already_checked_in")


def test_an_override_of_an_override_admit_counts_as_the_entry(north, eve, gate_staff):
    attempt = _attempt(north, eve)
    checkin_override(checkin=attempt, decision="admit", reason="ID ok", staff_user=gate_staff)
    assert list(standing_entries(eve)) == [attempt]
    assert _attempt(north, eve, "admit", "").reason == "already_checked_in"


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("no_holder", "no_ticket_holder"),
        ("revoked", "ticket_revoked"),
        ("closed", "gates_not_open"),
    ],
)
def test_admit_anyway_needs_a_valid_ticket_and_open_gates(north, eve, gate_staff, setup, code):
    attempt = _attempt(north, None if setup == "no_holder" else eve, "deny", "no_match")
    if setup == "revoked":
        TicketHolder.objects.filter(pk=eve.pk).update(status=TicketHolder.Status.REVOKED)
    if setup == "closed":
        event_set_status(event=north.event, status=Event.Status.CLOSED)
    attempt.refresh_from_db()
    with pytest.raises(OverrideRefused) as refused:
        checkin_override(checkin=attempt, decision="admit", reason="ok", staff_user=gate_staff)
    assert refused.value.code == code
    # A deny is always allowed: it can only keep someone out.
    admitted = _attempt(north, None, "admit", "")
    denied = checkin_override(checkin=admitted, decision="deny", reason="no", staff_user=gate_staff)
    assert denied.decision == "deny"


def test_overrides_change_the_standing_decision_and_never_repeat_it(north, eve, gate_staff):
    attempt = _attempt(north, eve)
    with pytest.raises(OverrideRefused) as same:
        checkin_override(checkin=attempt, decision="deny", reason="x", staff_user=gate_staff)
    assert same.value.code == "unchanged"
    first = checkin_override(checkin=attempt, decision="admit", reason="ID", staff_user=gate_staff)
    with pytest.raises(OverrideRefused) as nested:
        checkin_override(checkin=first, decision="deny", reason="x", staff_user=gate_staff)
    assert nested.value.code == "not_an_attempt"
    checkin_override(checkin=attempt, decision="deny", reason="Wrong ID", staff_user=gate_staff)
    assert not standing_entries(eve).exists()
    assert attempt.overridden_by.count() == 2


def _override_url(attempt, gate=None):
    return reverse("gate-override", args=[(gate or attempt.gate).pk, attempt.pk])


def test_gate_staff_override_through_the_endpoint(client, north, eve, gate_staff):
    attempt = _attempt(north, eve)
    client.force_login(gate_staff)
    response = client.post(_override_url(attempt), {"decision": "admit", "reason": "ID card"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["decision"], body["override"], body["staff"]) == ("admit", True, "gina")
    assert (body["message"], body["holder"]["name"]) == ("ID card", "Eve Enrolled")
    assert body["attempt_id"] == attempt.pk and body["override_url"] == _override_url(attempt)
    override = CheckIn.objects.get(pk=body["checkin_id"])
    assert (override.overrides_id, override.staff_user) == (attempt.pk, gate_staff)


def test_the_override_endpoint_explains_bad_input_and_refusals(client, north, eve, gate_staff):
    client.force_login(gate_staff)
    attempt = _attempt(north, eve)
    url = _override_url(attempt)
    for data in ({"decision": "admit"}, {"decision": "admit", "reason": " "}, {"reason": "x"}):
        response = client.post(url, data)
        assert (response.status_code, response.json()["code"]) == (400, "invalid")
    response = client.post(url, {"decision": "admit", "reason": "x" * 301})
    assert response.status_code == 400
    response = client.post(url, {"decision": "deny", "reason": "again"})
    assert (response.status_code, response.json()["code"]) == (409, "unchanged")
    assert "already stands" in response.json()["message"]
    assert client.get(url).status_code == 405
    assert not CheckIn.objects.filter(overrides=attempt).exists()


def test_the_override_endpoint_is_csrf_protected(north, eve, gate_staff):
    attempt = _attempt(north, eve)
    client = Client(enforce_csrf_checks=True)
    client.force_login(gate_staff)
    response = client.post(_override_url(attempt), {"decision": "admit", "reason": "x"})
    assert response.status_code == 403
    assert not CheckIn.objects.filter(overrides=attempt).exists()


def test_staff_of_another_organization_cannot_override(client, north, eve, event_b, org_b):
    attempt = _attempt(north, eve)
    outsider = staff_user_create(
        organization=org_b, username="otto", password="pw-otto-123", role="gate_staff"
    )
    client.force_login(outsider)
    data = {"decision": "admit", "reason": "x"}
    assert client.post(_override_url(attempt), data).status_code == 404
    # Nor through a gate of their own event: the check-in must belong to the gate's event.
    their_gate = event_b.gates.get()
    assert client.post(_override_url(attempt, their_gate), data).status_code == 404
    assert not CheckIn.objects.filter(overrides=attempt).exists()
    client.logout()
    response = client.post(_override_url(attempt), data)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_check_in_of_another_event_of_the_same_org_is_not_overridable_here(
    client, north, gate_staff, org_a
):
    other = make_event(org_a, "Alpha Warmup")
    other_gate = gate_create(event=other, name="Side")
    stranger = consenting_holder(other, "W-1", "Walt")
    attempt = _attempt(other_gate, stranger)
    client.force_login(gate_staff)
    response = client.post(_override_url(attempt, north), {"decision": "admit", "reason": "x"})
    assert response.status_code == 404


def test_the_page_offers_auto_capture_and_the_override_form(client, gate_staff, north):
    client.force_login(gate_staff)
    page = client.get(reverse("gate-page", args=[north.pk])).content.decode()
    for needle in ('id="auto"', 'id="override-reason"', "Admit anyway", 'data-auto-ms="1500"'):
        assert needle in page


# --- Automatic capture: what is recorded -----------------------------------------------------


@pytest.fixture
def decided(monkeypatch):
    """Stand-in for the worker's decision, to test what the view records for auto capture."""
    outcomes = []
    monkeypatch.setattr(checkin_services, "gate_decide", lambda **kwargs: outcomes.pop(0))
    return outcomes


def test_auto_capture_records_nothing_without_one_clear_face(client, gate_staff, event_a, decided):
    client.force_login(gate_staff)
    url = reverse("gate-check", args=[event_a.gates.get(mode="face_only").pk])
    decided.extend([GateOutcome("deny", "no_face"), GateOutcome("deny", "multiple_faces")])
    for reason in ("no_face", "multiple_faces"):
        body = client.post(url, {"auto": "1", "frames": _frame(b"x")}).json()
        assert (body["decision"], body["reason"]) == ("none", reason)
    decided.append(GateOutcome("deny", "no_face"))
    tapped = client.post(url, {"frames": _frame(b"x")})
    assert tapped.status_code == 422  # as the API answers it
    assert (tapped.json()["decision"], tapped.json()["reason"]) == ("retry", "no_face")
    assert not CheckIn.objects.exists()  # a tap with nobody in view is "try again", not a deny


def test_auto_capture_without_a_ticket_in_view_is_quiet(client, gate_staff, north):
    client.force_login(gate_staff)
    url = reverse("gate-check", args=[north.pk])
    body = client.post(url, {"auto": "1", "frames": _frame(blank_jpeg())}).json()
    assert (body["decision"], body["reason"]) == ("none", "no_ticket")
    assert not CheckIn.objects.exists()


def test_auto_capture_does_not_record_the_same_person_twice(client, gate_staff, event_a, decided):
    client.force_login(gate_staff)
    url = reverse("gate-check", args=[event_a.gates.get(mode="face_only").pk])
    eve = consenting_holder(event_a, "E-1", "Eve")
    next_in_line = consenting_holder(event_a, "E-2", "Nina")
    decided.extend([GateOutcome("admit", "", eve), GateOutcome("admit", "", eve)])
    first = client.post(url, {"auto": "1", "frames": _frame(b"x")}).json()
    assert first["decision"] == "admit"
    previous = {"auto": "1", "previous": first["attempt_id"]}
    again = client.post(url, {**previous, "frames": _frame(b"x")}).json()
    assert (again["decision"], again["reason"]) == ("none", "same_person")
    decided.append(GateOutcome("admit", "", next_in_line))
    nina = client.post(url, {**previous, "frames": _frame(b"x")}).json()
    assert (nina["decision"], nina["holder"]["name"]) == ("admit", "Nina")
    assert CheckIn.objects.count() == 2


def test_auto_capture_records_the_right_person_after_a_bad_first_frame(
    client, gate_staff, north, eve, decided
):
    client.force_login(gate_staff)
    url = reverse("gate-check", args=[north.pk])
    auto = {"auto": "1", "ticket_code": "E-1"}
    decided.extend([GateOutcome("deny", "face_mismatch", eve)] * 2)
    first = client.post(url, {**auto, "frames": _frame(b"x")}).json()
    assert first["reason"] == "face_mismatch"
    auto["previous"] = first["attempt_id"]
    assert client.post(url, {**auto, "frames": _frame(b"x")}).json()["decision"] == "none"
    decided.extend([GateOutcome("admit", "", eve)] * 2)
    admitted = client.post(url, {**auto, "frames": _frame(b"x")}).json()
    assert admitted["decision"] == "admit"
    auto["previous"] = admitted["attempt_id"]
    again = client.post(url, {**auto, "frames": _frame(b"x")}).json()
    assert (again["decision"], again["reason"]) == ("none", "same_person")
    assert CheckIn.objects.count() == 2


def test_the_admin_check_in_log_shows_overrides_and_their_staff(
    client, organizer_a, north, eve, gate_staff
):
    attempt = _attempt(north, eve)
    checkin_override(checkin=attempt, decision="admit", reason="ID", staff_user=gate_staff)
    client.force_login(organizer_a)
    page = client.get(reverse("admin:events_checkin_changelist")).content.decode()
    assert "overrides #" in page and "gina" in page and "Staff override" in page


# --- What a result offers and says (issue 16, gate staff items 3 and 5) ----------------------


def test_only_overrides_that_can_work_are_offered(north, eve, gate_staff):
    admitted = _attempt(north, eve, decision="admit", reason="")
    assert override_actions(admitted) == ["deny"]
    used = _attempt(north, eve, decision="admit", reason="")  # single entry turns it to deny
    assert (used.decision, used.reason) == ("deny", "already_checked_in")
    assert override_actions(used) == []  # admitting again is refused, and it is a deny already
    stranger = _attempt(north, None, reason="unknown_ticket")
    assert override_actions(stranger) == []  # nobody to admit
    sam = consenting_holder(north.event, "S-1", "Sam")
    mismatch = _attempt(north, sam)
    assert override_actions(mismatch) == ["admit"]
    override = checkin_override(checkin=mismatch, decision="admit", reason="ID", staff_user=None)
    assert override_actions(override) == ["deny"]  # a change of mind stays possible


def test_an_already_used_deny_says_when_and_at_which_gate_in_the_events_time_zone(
    client, gate_staff, north, eve, decided
):
    Event.objects.filter(pk=north.event_id).update(time_zone="Europe/Madrid")
    client.force_login(gate_staff)
    url = reverse("gate-check", args=[north.pk])
    decided.extend([GateOutcome("admit", holder=eve), GateOutcome("admit", holder=eve)])
    first = client.post(url, {"ticket_code": "E-1", "frames": _frame(b"x")}).json()
    assert (first["decision"], first["entry"], first["actions"]) == ("admit", None, ["deny"])
    again = client.post(url, {"ticket_code": "e-1", "frames": _frame(b"x")}).json()
    assert (again["decision"], again["reason"], again["actions"]) == (
        "deny",
        "already_checked_in",
        [],
    )
    entered = CheckIn.objects.get(pk=first["checkin_id"]).created_at
    local = timezone.localtime(entered, zoneinfo.ZoneInfo("Europe/Madrid"))
    assert again["entry"]["gate"] == north.pk and again["entry"]["time_zone"] == "Europe/Madrid"
    assert again["entry"]["text"] == (
        f"Used at {formats.time_format(local, 'TIME_FORMAT')} on "
        f"{formats.date_format(local, 'SHORT_DATE_FORMAT')} at North."
    )


@pytest.mark.parametrize(
    ("reason", "status"),
    [("no_face", 422), ("multiple_faces", 422), ("unknown_ticket", 422), ("other_event", 422)],
)
def test_unusable_input_is_try_again_and_records_nothing_as_in_the_api(
    client, gate_staff, north, decided, reason, status
):
    client.force_login(gate_staff)
    decided.append(GateOutcome("deny", reason))
    response = client.post(
        reverse("gate-check", args=[north.pk]), {"ticket_code": "X-1", "frames": _frame(b"x")}
    )
    assert response.status_code == status
    body = response.json()
    assert (body["decision"], body["code"], body["reason"]) == ("retry", reason, reason)
    assert not CheckIn.objects.exists()


def test_a_tap_without_a_ticket_code_is_try_again(client, gate_staff, north):
    client.force_login(gate_staff)
    response = client.post(reverse("gate-check", args=[north.pk]), {"frames": _frame(blank_jpeg())})
    assert (response.status_code, response.json()["decision"]) == (400, "retry")
    assert response.json()["code"] == "no_ticket" and not CheckIn.objects.exists()


def test_a_refusal_that_is_not_about_the_input_is_no_try_again(client, gate_staff, north):
    client.force_login(gate_staff)
    north.is_active = False
    north.save()
    response = client.post(reverse("gate-check", args=[north.pk]), {"frames": _frame(b"x")})
    assert response.status_code == 409 and "decision" not in response.json()


def test_a_result_clears_after_the_configured_seconds(client, gate_staff, north, settings):
    settings.FACEPASS_GATE_RESULT_SECONDS = 2.5
    client.force_login(gate_staff)
    page = client.get(reverse("gate-page", args=[north.pk])).content.decode()
    assert 'data-result-ms="2500"' in page
