"""The gate page in real Chromium with a fake camera, a live server and a real face worker."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from events.models import CheckIn, Gate
from tests.browser.gate_checks import check, expect_result, expect_thumbnail, type_ticket
from tests.faces import consenting_holder

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

EVE_AGAIN = (6, 1)  # another photo of the enrolled holder (enrolled from (6, 0))
STRANGER = (8, 0)


def test_face_only_gate_admits_the_holder_once_and_denies_a_stranger(
    enrolled, celery_worker_process, gate_page, screenshot
):
    gate = enrolled.event.gates.get(mode=Gate.Mode.FACE_ONLY)
    page = gate_page(gate, EVE_AGAIN)

    check(page, lambda: page.keyboard.press("Space"))
    expect_result(page, "ADMIT", name="Eve Enrolled")
    expect(page.locator("#result")).to_have_class("result admit")
    expect_thumbnail(page)
    screenshot(page, "admit")

    check(page, lambda: page.locator("#check").click())
    expect_result(page, "DENY", "already been used to enter", name="Eve Enrolled")
    # It says when and where the ticket was used.
    expect(page.locator("#entry")).to_contain_text(f"at {gate.name}.")
    screenshot(page, "already-checked-in")

    # Single entry holds even against staff, so no override is offered (none could work).
    expect(page.locator("#override")).to_be_hidden()

    stranger = gate_page(gate, STRANGER)
    check(stranger, lambda: stranger.locator("#preview").click())
    expect_result(stranger, "DENY", "No enrolled ticket holder of this event matches")
    expect(stranger.locator("#override")).to_be_hidden()  # nobody to admit, already denied
    screenshot(stranger, "stranger-denied")

    decisions = list(
        CheckIn.objects.filter(gate=gate).order_by("created_at").values_list("decision", "reason")
    )
    assert decisions == [
        ("admit", ""),
        ("deny", "already_checked_in"),
        ("deny", "no_match"),
    ]


def test_ticket_gate_admits_denies_and_records_a_staff_override(
    enrolled, celery_worker_process, gate_page, gate_staff, screenshot
):
    gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    sam = consenting_holder(enrolled.event, "E-2", "Sam Selfieless")

    stranger = gate_page(gate, STRANGER)
    check(stranger, type_ticket(stranger, "E-1"))
    # The holder's name and enrolled photo are shown so staff can compare by eye.
    expect_result(stranger, "DENY", "does not match the ticket holder", name="Eve Enrolled")
    expect_thumbnail(stranger)
    screenshot(stranger, "wrong-face-denied")

    page = gate_page(gate, EVE_AGAIN)
    check(page, type_ticket(page, "E-1"))
    expect_result(page, "ADMIT", name="Eve Enrolled")
    expect(page.locator("#ticket")).to_have_value("")
    screenshot(page, "admit")

    check(page, type_ticket(page, "E-1"))
    expect_result(page, "DENY", "already been used to enter", name="Eve Enrolled")
    screenshot(page, "already-checked-in")

    check(page, type_ticket(page, "E-2"))
    expect_result(page, "DENY", "has no enrolled face", name="Sam Selfieless")
    expect(page.locator("#override-deny")).to_be_hidden()
    page.fill("#override-reason", "Photo ID checked at the desk")
    check(page, lambda: page.locator("#override-admit").click())
    expect_result(page, "ADMIT (override)", "by gina: Photo ID checked", name="Sam Selfieless")
    expect(page.locator("#override-admit")).to_be_hidden()
    expect(page.locator("#override-deny")).to_be_visible()  # a change of mind stays possible
    screenshot(page, "override-admit")

    override = CheckIn.objects.get(overrides__isnull=False)
    assert (override.decision, override.attendee, override.staff_user) == ("admit", sam, gate_staff)
    assert override.reason_message == "Photo ID checked at the desk"
    assert (override.overrides.reason, override.overrides.attendee) == ("not_enrolled", sam)


def test_automatic_capture_admits_without_a_key_press_and_only_once(
    enrolled, celery_worker_process, gate_page, screenshot
):
    gate = enrolled.event.gates.get(mode=Gate.Mode.FACE_ONLY)
    page = gate_page(gate, EVE_AGAIN)
    page.locator("#auto").check()
    page.wait_for_function("() => document.getElementById('result').dataset.shown === '1'")
    expect_result(page, "ADMIT", name="Eve Enrolled")
    screenshot(page, "auto-admit")
    # She is still in front of the camera: the next captures see the same person and record
    # nothing (no "already checked in" flash at someone just admitted).
    page.wait_for_function("() => Number(document.getElementById('gate').dataset.quiet) >= 2")
    expect(page.locator("#auto-hint")).to_contain_text("Same person")
    expect(page.locator("#decision")).to_have_text("ADMIT")
    assert CheckIn.objects.filter(gate=gate).count() == 1
