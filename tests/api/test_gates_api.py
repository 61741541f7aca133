"""Gates and staff overrides through the API: a ticketing system sets up an event's gates and
overrules gate results with the same services and rules as the organizer's pages."""

import pytest

from audit.models import AuditEntry
from events.models import CheckIn, Event, Gate
from tests.api.conftest import assert_error, b64
from tests.faces import consenting_holder, val_photo
from tests.test_openset_gate import _fake_enrolled

pytestmark = pytest.mark.django_db


def gates_url(event) -> str:
    return f"/api/v1/events/{event.pk}/gates/"


def test_a_gate_is_created_listed_and_retrieved_through_the_api(api_a, event_a):
    created = api_a.post(gates_url(event_a), {"name": "South", "mode": "face_only"}, "json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body | {"id": 0} == {
        "id": 0,
        "event": event_a.pk,
        "name": "South",
        "mode": "face_only",
        "is_active": True,
    }
    listed = api_a.get(gates_url(event_a)).json()
    assert [g["name"] for g in listed["results"]] == ["Face lane", "North", "South"]
    one = api_a.get(f"{gates_url(event_a)}{body['id']}/")
    assert one.json() == body


def test_a_gate_name_is_unique_within_its_event(api_a, event_a):
    again = api_a.post(gates_url(event_a), {"name": "North", "mode": "ticket_face"}, "json")
    body = assert_error(again, 400, "invalid")
    assert "name" in body["fields"]
    assert event_a.gates.filter(name="North").count() == 1


def test_a_switched_off_gate_refuses_check_ins_until_switched_on(api_a, event_a):
    gate = event_a.gates.get(name="North")
    off = api_a.post(f"{gates_url(event_a)}{gate.pk}/deactivate/")
    assert (off.status_code, off.json()["is_active"]) == (200, False)
    checkin = api_a.post(
        "/api/v1/checkins/",
        {"gate": gate.pk, "image_base64": b64(val_photo(6, 0)), "ticket_code": "X"},
        "json",
    )
    assert_error(checkin, 409, "gate_inactive")
    on = api_a.post(f"{gates_url(event_a)}{gate.pk}/activate/", {}, "json")
    assert (on.status_code, on.json()["is_active"]) == (200, True)


def test_a_face_only_gate_past_capacity_opens_only_on_confirmation_like_the_page(
    api_a, event_a, default_model
):
    Event.objects.filter(pk=event_a.pk).update(security_level="high")
    _fake_enrolled(event_a, default_model, 40)  # at "high", face only admits well up to ~10
    lane = event_a.gates.get(mode=Gate.Mode.FACE_ONLY)
    Gate.objects.filter(pk=lane.pk).update(is_active=False)
    url = f"{gates_url(event_a)}{lane.pk}/activate/"

    refused = api_a.post(url, {}, "json")
    assert_error(refused, 409, "face_only_capacity")
    lane.refresh_from_db()
    assert lane.is_active is False
    new = api_a.post(gates_url(event_a), {"name": "Lane 2", "mode": "face_only"}, "json")
    assert_error(new, 409, "face_only_capacity")
    assert not event_a.gates.filter(name="Lane 2").exists()

    confirmed = api_a.post(url, {"confirm_face_only": True}, "json")
    assert (confirmed.status_code, confirmed.json()["is_active"]) == (200, True)
    # A ticket + face gate needs no confirmation; nor does a face-only one before opening.
    ticket = api_a.post(gates_url(event_a), {"name": "East", "mode": "ticket_face"}, "json")
    assert ticket.status_code == 201
    Event.objects.filter(pk=event_a.pk).update(status=Event.Status.REGISTRATION_OPEN)
    later = api_a.post(gates_url(event_a), {"name": "Lane 3", "mode": "face_only"}, "json")
    assert later.status_code == 201


def test_gates_of_another_organization_are_not_found(api_b, event_a):
    gate = event_a.gates.first()
    assert_error(api_b.get(gates_url(event_a)), 404, "not_found")
    assert_error(api_b.get(f"{gates_url(event_a)}{gate.pk}/"), 404, "not_found")
    assert_error(api_b.post(f"{gates_url(event_a)}{gate.pk}/deactivate/"), 404, "not_found")
    created = api_b.post(gates_url(event_a), {"name": "Sneaky", "mode": "ticket_face"}, "json")
    assert_error(created, 404, "not_found")
    gate.refresh_from_db()
    assert gate.is_active and not event_a.gates.filter(name="Sneaky").exists()


def denied_attempt(event, code="OV-1") -> CheckIn:
    holder = consenting_holder(event, code, "Olga Override")
    gate = event.gates.get(name="North")
    return CheckIn.objects.create(
        event=event,
        gate=gate,
        attendee=holder,
        decision="deny",
        reason="face_mismatch",
        mode=gate.mode,
    )


def override_url(checkin) -> str:
    return f"/api/v1/checkins/{checkin.pk}/override/"


def test_staff_admit_anyway_through_the_api_is_recorded_audited_and_not_repeated(api_a, event_a):
    attempt = denied_attempt(event_a)
    body = {"decision": "admit", "reason": "Checked the passport by hand."}
    admitted = api_a.post(override_url(attempt), body, "json")
    assert admitted.status_code == 201, admitted.content
    override = admitted.json()
    assert override["decision"] == "admit" and override["reason"] == "staff_override"
    assert override["overrides"] == attempt.pk
    assert override["message"] == "Checked the passport by hand."
    attempt.refresh_from_db()
    assert attempt.decision == "deny"  # the attempt itself never changes
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CHECKIN_OVERRIDE)
    assert entry.actor is None and entry.actor_label.startswith("api key fp_")
    assert entry.organization_id == event_a.organization_id

    assert_error(api_a.post(override_url(attempt), body, "json"), 409, "unchanged")
    row = CheckIn.objects.get(pk=override["id"])
    assert_error(api_a.post(override_url(row), body, "json"), 409, "not_an_attempt")
    denied = api_a.post(override_url(attempt), {"decision": "deny", "reason": "No."}, "json")
    assert (denied.status_code, denied.json()["decision"]) == (201, "deny")


def test_an_override_follows_the_rules_of_the_gate_page(api_a, event_a):
    attempt = denied_attempt(event_a)
    Event.objects.filter(pk=event_a.pk).update(status=Event.Status.CLOSED)
    refused = api_a.post(override_url(attempt), {"decision": "admit", "reason": "VIP"}, "json")
    assert_error(refused, 409, "gates_not_open")
    missing = api_a.post(override_url(attempt), {"decision": "admit"}, "json")
    assert "reason" in assert_error(missing, 400, "invalid")["fields"]
    review = api_a.post(override_url(attempt), {"decision": "review", "reason": "x"}, "json")
    assert "decision" in assert_error(review, 400, "invalid")["fields"]
    assert CheckIn.objects.filter(overrides=attempt).count() == 0


def test_a_check_in_of_another_organization_cannot_be_overridden(api_b, event_a):
    attempt = denied_attempt(event_a)
    refused = api_b.post(override_url(attempt), {"decision": "admit", "reason": "x"}, "json")
    assert_error(refused, 404, "not_found")
    assert CheckIn.objects.filter(overrides=attempt).count() == 0


def test_a_gate_without_a_mode_checks_ticket_and_face(api_a, event_a):
    created = api_a.post(gates_url(event_a), {"name": "West"}, "json")
    assert (created.status_code, created.json()["mode"]) == (201, "ticket_face")
