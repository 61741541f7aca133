"""Ticket codes match whatever their case and the spaces around them, in every channel that
looks one up (issue 16, gate staff item 4): one normaliser and one lookup (common.tickets)."""

from datetime import datetime

import pytest
from django.urls import reverse

from attendees.csv_import import ticket_holders_import_csv
from attendees.models import TicketHolder
from attendees.selectors import ticket_holder_by_code_and_email
from attendees.services import ticket_holder_create
from checkins.gate import GateOutcome, ticket_holder_for_gate
from common.tickets import ticket_code_key, ticket_code_normalise
from events.models import CheckIn, Gate
from tests.api.conftest import api_client, b64
from tests.api.test_checkins_api import SAME_PERSON, check_in
from tests.conftest import make_event
from tests.faces import consenting_holder, val_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_a(org_a):
    return api_client(org_a)


def test_the_normaliser_drops_surrounding_spaces_and_folds_compatibility_characters():
    assert ticket_code_normalise("  demo-ux-0001\u00a0\t") == "demo-ux-0001"
    assert ticket_code_normalise("ＤＥＭＯ－１") == "DEMO-1"  # a phone's full-width keyboard
    assert ticket_code_normalise(None) == ""
    assert ticket_code_key(" Demo-UX-0001 ") == ticket_code_key("DEMO-ux-0001")
    assert ticket_code_normalise("A B") == "A B"  # inner spaces are part of the code


def test_the_gate_lookup_finds_the_holder_in_any_case_and_names_another_events_ticket(
    event_a, org_a
):
    eve = consenting_holder(event_a, "DEMO-UX-0001", "Eve")
    assert ticket_holder_for_gate(event_a, " demo-ux-0001 ") == eve
    other = make_event(org_a, "Other night")
    consenting_holder(other, "OTHER-7", "Otto")
    elsewhere = ticket_holder_for_gate(event_a, "other-7")
    assert isinstance(elsewhere, GateOutcome) and elsewhere.reason == "other_event"
    unknown = ticket_holder_for_gate(event_a, "demo-ux-0002")
    assert isinstance(unknown, GateOutcome) and unknown.reason == "unknown_ticket"


def test_an_exact_case_match_wins_over_an_older_code_that_differs_only_in_case(event_a):
    lower = TicketHolder.objects.create(event=event_a, ticket_code="ab-1", name="Lower")
    upper = TicketHolder.objects.create(event=event_a, ticket_code="AB-1", name="Upper")
    assert ticket_holder_for_gate(event_a, "AB-1") == upper
    assert ticket_holder_for_gate(event_a, "ab-1") == lower


def test_codes_are_stored_without_surrounding_spaces(event_a):
    holder = ticket_holder_create(event=event_a, ticket_code="  T-9 ", name="Tim")
    assert holder.ticket_code == "T-9"


def test_registration_by_code_and_email_ignores_the_codes_case_and_spaces(client, event_a):
    rita = ticket_holder_create(event=event_a, ticket_code="R-1", name="Rita", email="rita@x.org")
    assert ticket_holder_by_code_and_email(ticket_code=" r-1 ", email="RITA@x.org") == rita
    response = client.post(
        reverse("attendees:start"), {"ticket_code": " r-1 ", "email": "rita@x.org"}
    )
    assert response.status_code == 302


def test_a_csv_row_in_another_case_updates_the_holder_instead_of_adding_one(event_a):
    ticket_holder_create(event=event_a, ticket_code="T-001", name="Ada")
    report = ticket_holders_import_csv(
        event=event_a, raw=b"name,ticket_code\nAda Lovelace, t-001 \nBob,B-1\nBobby,b-1\n"
    )
    assert (report.created, report.updated) == (1, 1)
    assert report.errors == [(4, "ticket_code 'b-1' appears more than once in this file.")]
    codes = sorted(TicketHolder.objects.filter(event=event_a).values_list("ticket_code", "name"))
    assert codes == [("B-1", "Bob"), ("T-001", "Ada Lovelace")]  # the stored case is kept


def test_the_api_refuses_a_second_holder_whose_code_differs_only_in_case(api_a, event_a):
    url = f"/api/v1/events/{event_a.pk}/holders/"
    assert api_a.post(url, {"ticket_code": "T-1", "name": "Ada"}, format="json").status_code == 201
    twin = api_a.post(url, {"ticket_code": " t-1", "name": "Eve"}, format="json")
    assert twin.status_code == 400 and "ticket_code" in twin.json()["fields"]
    found = api_a.get(url, {"search": " t-1 "}).json()["results"]
    assert [holder["name"] for holder in found] == ["Ada"]


@pytest.mark.worker
def test_the_api_check_in_and_verify_take_a_code_in_any_case(
    api_a, enrolled, celery_worker_process
):
    gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    verified = api_a.post(
        f"/api/v1/events/{enrolled.event.pk}/verify/",
        {"ticket_code": "e-1 ", "image_base64": b64(val_photo(*SAME_PERSON))},
        format="json",
    ).json()
    assert (verified["decision"], verified["holder"]["id"]) == ("admit", enrolled.pk), verified
    admitted = check_in(api_a, gate, val_photo(*SAME_PERSON), " e-1").json()
    assert (admitted["decision"], admitted["holder"]["id"]) == ("admit", enrolled.pk), admitted
    assert admitted["entry"] is None
    again = check_in(api_a, gate, val_photo(*SAME_PERSON), "E-1").json()
    assert (again["decision"], again["reason"]) == ("deny", "already_checked_in")
    first = CheckIn.objects.get(pk=admitted["id"])
    assert again["entry"]["gate"] == gate.pk and again["entry"]["gate_name"] == "North"
    assert datetime.fromisoformat(again["entry"]["at"]) == first.created_at
    assert again["entry"]["text"].endswith("at North.")
