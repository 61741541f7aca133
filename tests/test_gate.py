import threading
from types import SimpleNamespace

import pytest
from django.db import connection

from checkins.gate import GateOutcome, gate_decide
from checkins.services import checkin_record
from events.models import CheckIn, Event, Gate
from recognition.frames import GateUnavailable
from tests.faces import consenting_holder, val_photo


def gate_of(event, mode) -> Gate:
    return event.gates.get(mode=mode)


def test_a_closed_event_denies_before_any_face_work(event_a, db):
    event_a.status = Event.Status.REGISTRATION_OPEN
    event_a.save(update_fields=["status"])
    outcome = gate_decide(gate=gate_of(event_a, "ticket_face"), frames=[b"x"], ticket_code="E-1")
    assert (outcome.decision, outcome.reason) == ("deny", "gates_not_open")


def test_unknown_tickets_and_tickets_of_another_event_are_denied(event_a, org_a, db):
    from tests.conftest import make_event

    other = make_event(org_a, "Other Night")
    consenting_holder(other, "O-1")
    gate = gate_of(event_a, "ticket_face")
    assert gate_decide(gate=gate, frames=[b"x"], ticket_code="NOPE").reason == "unknown_ticket"
    assert gate_decide(gate=gate, frames=[b"x"], ticket_code="O-1").reason == "other_event"


def test_with_no_gate_worker_the_gate_is_unavailable(enrolled):
    with pytest.raises(GateUnavailable, match="No face worker"):
        gate_decide(
            gate=gate_of(enrolled.event, "ticket_face"), frames=[val_photo(6, 1)], ticket_code="E-1"
        )


@pytest.mark.worker
def test_a_real_gate_worker_admits_the_holder_and_denies_a_stranger_in_both_modes(
    enrolled, celery_worker_process
):
    event = enrolled.event
    one_to_one, face_only = gate_of(event, "ticket_face"), gate_of(event, "face_only")
    same_person, stranger = val_photo(6, 1), val_photo(8, 0)

    admit = gate_decide(gate=one_to_one, frames=[same_person], ticket_code="E-1")
    assert (admit.decision, admit.holder) == ("admit", enrolled), admit
    assert admit.score >= admit.details["threshold"]
    mismatch = gate_decide(gate=one_to_one, frames=[stranger], ticket_code="E-1")
    assert (mismatch.decision, mismatch.reason) == ("deny", "face_mismatch")

    found = gate_decide(gate=face_only, frames=[stranger, same_person])  # best frame wins
    assert (found.decision, found.holder) == ("admit", enrolled)
    nobody = gate_decide(gate=face_only, frames=[stranger])
    assert (nobody.decision, nobody.reason) == ("deny", "no_match")
    blank = gate_decide(gate=face_only, frames=[b"not an image"])
    assert (blank.decision, blank.reason) == ("deny", "not_an_image")


def _admit(holder, model=None) -> GateOutcome:
    return GateOutcome("admit", "", holder, 0.99, model)


def test_single_entry_admits_once_then_denies_as_already_checked_in(enrolled):
    gate = gate_of(enrolled.event, "ticket_face")
    first, _ = checkin_record(gate=gate, outcome=_admit(enrolled))
    second, _ = checkin_record(gate=gate, outcome=_admit(enrolled))
    assert (first.decision, second.decision, second.reason) == (
        "admit",
        "deny",
        "already_checked_in",
    )


def test_re_entry_events_admit_again(enrolled):
    event = enrolled.event
    event.entry_policy = Event.EntryPolicy.RE_ENTRY
    event.save(update_fields=["entry_policy"])
    gate = gate_of(event, "ticket_face")
    checkin_record(gate=gate, outcome=_admit(enrolled))
    again, _ = checkin_record(gate=gate, outcome=_admit(enrolled))
    assert again.decision == "admit"


def test_a_repeated_idempotency_key_returns_the_first_result_and_records_nothing(enrolled):
    gate = gate_of(enrolled.event, "ticket_face")
    first, created = checkin_record(gate=gate, outcome=_admit(enrolled), idempotency_key="k-1")
    repeat, created_again = checkin_record(
        gate=gate, outcome=_admit(enrolled), idempotency_key="k-1"
    )
    assert created and not created_again and repeat.pk == first.pk
    assert CheckIn.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_gates_scanning_the_same_holder_at_once_admit_exactly_once(event_a, default_model):
    holder = consenting_holder(event_a, "R-1", "Racer")
    gates = [gate_of(event_a, "ticket_face"), gate_of(event_a, "face_only")]
    barrier = threading.Barrier(2)
    results = []

    def scan(gate):
        try:
            barrier.wait()
            checkin, _ = checkin_record(gate=gate, outcome=_admit(holder))
            results.append(checkin.decision)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan, args=(g,)) for g in gates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["admit", "deny"]
    assert CheckIn.objects.filter(attendee=holder, decision="admit").count() == 1


def test_outcomes_explain_their_reason(db):
    outcome = GateOutcome("deny", "already_checked_in", SimpleNamespace())
    assert "already" in outcome.message
