"""The gate page in real Chromium with a fake camera, a live server and a real face worker."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from events.models import CheckIn, Gate, Membership
from events.services import staff_user_create
from tests.faces import consenting_holder, val_photo

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

EVE_AGAIN = (6, 1)  # another photo of the enrolled holder (enrolled from (6, 0))
STRANGER = (8, 0)
STAFF = ("gina", "pw-gina-123")


@pytest.fixture(autouse=True)
def _patient_gate(settings):
    # The web side waits this long for the face worker; shared CI cores also run Chromium.
    settings.FACEPASS_GATE_TIMEOUT_SECONDS = 30


@pytest.fixture
def gate_staff(org_a):
    return staff_user_create(
        organization=org_a, username=STAFF[0], password=STAFF[1], role=Membership.Role.GATE_STAFF
    )


@pytest.fixture
def gate_page(camera_browser, open_page, log_in, gate_staff):
    """gate_page(gate, photo) -> the gate page, logged in, with `photo` in front of the camera."""

    def open_gate(gate: Gate, photo: tuple[int, int]):
        page = open_page(camera_browser(val_photo(*photo)))
        log_in(page, *STAFF, next_path=f"/gate/{gate.pk}/")
        expect(page.locator("#camera-status")).to_have_text("Camera on")
        expect(page.locator("#check")).to_be_enabled()
        return page

    return open_gate


def check(page, trigger) -> None:
    """Trigger a check (key, tap or typed ticket) and wait until its result is shown."""
    shown = page.locator("#result").get_attribute("data-shown") or "0"
    trigger()
    page.wait_for_function(
        "shown => document.getElementById('result').dataset.shown !== shown", arg=shown
    )


def expect_result(page, title: str, reason: str = "", name: str | None = None) -> None:
    expect(page.locator("#decision")).to_have_text(title)
    if reason:
        expect(page.locator("#reason")).to_contain_text(reason)
    holder = page.locator("#holder")
    if name is None:
        expect(holder).to_be_hidden()
    else:
        expect(page.locator("#holder-name")).to_have_text(name)


def expect_thumbnail(page) -> None:
    photo = page.locator("#holder-photo")
    expect(photo).to_be_visible()
    page.wait_for_function(
        "() => { const img = document.getElementById('holder-photo');"
        " return img.complete && img.naturalWidth > 0; }"
    )


def type_ticket(page, code: str):
    return lambda: (page.fill("#ticket", code), page.press("#ticket", "Enter"))


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
    screenshot(page, "already-checked-in")

    # Single entry holds even against staff: "Admit anyway" needs a reason, then is refused.
    page.locator("#override-admit").click()
    expect(page.locator("#override-error")).to_contain_text("Give a reason first")
    page.fill("#override-reason", "Says she only went to the car")
    page.locator("#override-admit").click()
    expect(page.locator("#override-error")).to_contain_text("already been used to enter")
    expect(page.locator("#decision")).to_have_text("DENY")

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
