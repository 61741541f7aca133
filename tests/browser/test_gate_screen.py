"""The gate screen as staff at a turnstile meet it (issue 16, gate staff): the result readable
without scrolling on a tablet either way up and on a phone, back to "Ready" between people,
unusable input as a neutral "try again" that records nothing, codes typed in any case, only the
overrides that can work, sounds that can be muted; in English and in Spanish."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from checkins import services as checkin_services
from checkins.gate import GateOutcome
from events.models import CheckIn, Gate
from tests.browser.gate_checks import STAFF, check, expect_result, reload_gate, type_ticket
from tests.faces import blank_jpeg, val_photo

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

EVE_AGAIN = (6, 1)  # another photo of the enrolled holder (enrolled from (6, 0))
STRANGER = (8, 0)
VIEWPORTS = {
    "tablet-landscape": {"width": 1024, "height": 768},
    "tablet-portrait": {"width": 768, "height": 1024},
    "phone": {"width": 390, "height": 844},
}
# What staff must read at a glance: never below the fold, never off the side.
AT_A_GLANCE = [
    "#decision",
    "#reason",
    "#holder-photo",
    "#holder-name",
    "#override-reason",
    "#override-admit",
]


def expect_on_screen(page, selectors: list[str]) -> None:
    """Each element is wholly inside the viewport and the page has nothing to scroll to."""
    size = page.viewport_size
    page.wait_for_function(
        "() => document.documentElement.scrollHeight <= window.innerHeight + 1"
        " && document.documentElement.scrollWidth <= window.innerWidth + 1"
    )
    for selector in selectors:
        expect(page.locator(selector)).to_be_visible()
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        inside = (
            box["x"] >= 0
            and box["y"] >= 0
            and box["x"] + box["width"] <= size["width"] + 0.5
            and box["y"] + box["height"] <= size["height"] + 0.5
        )
        assert inside, f"{selector} at {box} is not inside the {size} viewport"


def open_gate(camera_browser, open_page, log_in, gate, image: bytes, **options):
    page = open_page(camera_browser(image), **options)
    log_in(page, *STAFF, next_path=f"/gate/{gate.pk}/")
    expect(page.locator("#camera-status")).not_to_have_text("Starting camera…")
    expect(page.locator("#check")).to_be_enabled()
    return page


def played(page) -> list[str]:
    return page.evaluate("() => window.GateSounds.played.slice()")


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_decision_reason_holder_and_overrides_fit_a_tablet_either_way_up_and_a_phone(
    enrolled, celery_worker_process, camera_browser, open_page, log_in, gate_staff, settings,
    screenshot, language,
):  # fmt: skip
    settings.FACEPASS_GATE_TIMEOUT_SECONDS = 30
    settings.FACEPASS_GATE_RESULT_SECONDS = 600  # the result stays while the screen turns
    gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    page = open_gate(
        camera_browser, open_page, log_in, gate, val_photo(*STRANGER),
        viewport=VIEWPORTS["tablet-landscape"], locale=language,
        extra_http_headers={"Accept-Language": language},
    )  # fmt: skip
    screenshot(page, f"{language}-ready")
    check(page, type_ticket(page, "E-1"))
    expect(page.locator("#result")).to_have_attribute("data-decision", "deny")
    expect(page.locator("#holder-name")).to_have_text("Eve Enrolled")
    page.wait_for_function("() => document.getElementById('holder-photo').naturalWidth > 0")
    for name, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        expect_on_screen(page, AT_A_GLANCE)
        screenshot(page, f"{language}-deny-{name}")


def test_a_result_clears_to_ready_unless_staff_are_writing_an_override(
    enrolled, celery_worker_process, gate_page, settings, screenshot
):
    settings.FACEPASS_GATE_RESULT_SECONDS = 2
    gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    page = gate_page(gate, EVE_AGAIN)
    check(page, type_ticket(page, "E-1"))
    expect_result(page, "ADMIT", name="Eve Enrolled")
    # Staff writing an override keep the result up, however long they take.
    page.fill("#override-reason", "Wrong person, ")
    page.wait_for_timeout(3500)
    expect(page.locator("#result")).to_have_attribute("data-decision", "admit")
    page.fill("#override-reason", "")
    page.locator("#ticket").focus()
    expect(page.locator("#result")).to_have_attribute("data-decision", "ready", timeout=10_000)
    expect_result(page, "Ready", "Next person")
    expect(page.locator("#override")).to_be_hidden()
    screenshot(page, "cleared")
    assert CheckIn.objects.filter(gate=gate).count() == 1


def test_unusable_input_is_a_neutral_try_again_that_records_nothing(
    enrolled, celery_worker_process, camera_browser, open_page, log_in, gate_staff, gate_page,
    settings, screenshot,
):  # fmt: skip
    settings.FACEPASS_GATE_RESULT_SECONDS = 600
    ticket_gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    page = gate_page(ticket_gate, EVE_AGAIN)
    check(page, type_ticket(page, "NOPE-9"))
    expect_result(page, "TRY AGAIN", "Unknown ticket code")
    expect(page.locator("#reason")).to_contain_text("NOPE-9")
    expect(page.locator("#result")).to_have_class("result retry")
    expect(page.locator("#ticket")).to_have_value("NOPE-9")  # the typo stays to be fixed
    expect(page.locator("#override")).to_be_hidden()
    assert played(page) == ["retry"]
    screenshot(page, "unknown-ticket")

    face_lane = enrolled.event.gates.get(mode=Gate.Mode.FACE_ONLY)
    nobody = open_gate(camera_browser, open_page, log_in, face_lane, blank_jpeg())
    check(nobody, lambda: nobody.keyboard.press("Space"))
    expect_result(nobody, "TRY AGAIN", "No face found")
    screenshot(nobody, "no-face")
    assert not CheckIn.objects.exists()


def test_codes_match_in_any_case_and_an_already_used_ticket_says_when_and_where(
    enrolled, celery_worker_process, gate_page, settings, screenshot
):
    settings.FACEPASS_GATE_RESULT_SECONDS = 600
    gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    page = gate_page(gate, EVE_AGAIN)
    check(page, type_ticket(page, "  e-1 "))
    expect_result(page, "ADMIT", name="Eve Enrolled")
    expect(page.locator("#ticket")).to_have_value("")
    # A muted gate stays muted on this device, and says so.
    page.locator("#mute").click()
    reload_gate(page)
    expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
    check(page, type_ticket(page, "E-1"))
    expect_result(page, "DENY", "already been used", name="Eve Enrolled")
    expect(page.locator("#entry")).to_contain_text(f"at {gate.name}.")
    expect(page.locator("#override")).to_be_hidden()  # neither override could work
    assert played(page) == ["muted:deny"]
    screenshot(page, "already-used")


def test_each_result_has_its_own_sound(enrolled, celery_worker_process, gate_page, settings):
    settings.FACEPASS_GATE_RESULT_SECONDS = 600
    gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    page = gate_page(gate, EVE_AGAIN)
    for code in ("NOPE-1", "E-1", "E-1"):
        check(page, type_ticket(page, code))
    assert played(page) == ["retry", "admit", "deny"]
    patterns = page.evaluate("() => window.GateSounds.patterns")
    assert len({str(patterns[kind]) for kind in ("admit", "deny", "review", "retry")}) == 4


@pytest.mark.parametrize("language", ["en", "es"])
def test_screenshots_of_each_result_state(
    enrolled, celery_worker_process, camera_browser, open_page, log_in, gate_staff, settings,
    screenshot, language,
):  # fmt: skip
    """TRY AGAIN, ADMIT, DENY (already used, with when and where) and Ready, in the browser's
    language (asserted by state, not by words, so the test holds in any language)."""
    settings.FACEPASS_GATE_TIMEOUT_SECONDS = 30
    settings.FACEPASS_GATE_RESULT_SECONDS = 600
    gate = enrolled.event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)
    page = open_gate(
        camera_browser, open_page, log_in, gate, val_photo(*EVE_AGAIN),
        viewport=VIEWPORTS["tablet-landscape"], locale=language,
        extra_http_headers={"Accept-Language": language},
    )  # fmt: skip
    for code, state in (("NOPE-9", "retry"), ("E-1", "admit"), ("e-1", "deny")):
        check(page, type_ticket(page, code))
        expect(page.locator("#result")).to_have_attribute("data-decision", state)
        # A plain admit has no reason to give; the others say why.
        expect_on_screen(page, ["#decision", "#holder-name"] if state == "admit" else ["#reason"])
        screenshot(page, f"{language}-{state}")
    expect(page.locator("#entry")).to_be_visible()
    settings.FACEPASS_GATE_RESULT_SECONDS = 1  # takes effect on the next page load
    reload_gate(page)
    check(page, type_ticket(page, "NOPE-9"))
    expect(page.locator("#result")).to_have_attribute("data-decision", "ready", timeout=10_000)
    screenshot(page, f"{language}-ready-after-a-result")


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_review_shows_the_holder_to_compare_and_offers_both_overrides(
    enrolled, camera_browser, open_page, log_in, gate_staff, settings, monkeypatch, screenshot,
    language,
):  # fmt: skip
    """REVIEW needs a face between the 1:1 and the 1:N thresholds, which no fixed photo pair
    gives at every model: the decision stands in for the worker (the live server runs in this
    process); what the page does with it is real."""
    settings.FACEPASS_GATE_RESULT_SECONDS = 600
    monkeypatch.setattr(
        checkin_services,
        "gate_decide",
        lambda **kwargs: GateOutcome("review", "needs_review", holder=enrolled, score=0.93),
    )
    gate = enrolled.event.gates.get(mode=Gate.Mode.FACE_ONLY)
    page = open_gate(
        camera_browser, open_page, log_in, gate, val_photo(*EVE_AGAIN),
        viewport=VIEWPORTS["tablet-landscape"], locale=language,
        extra_http_headers={"Accept-Language": language},
    )  # fmt: skip
    check(page, lambda: page.keyboard.press("Space"))
    expect(page.locator("#result")).to_have_attribute("data-decision", "review")
    expect(page.locator("#result")).to_have_class("result review")
    expect(page.locator("#override-admit")).to_be_visible()
    expect(page.locator("#override-deny")).to_be_visible()
    expect_on_screen(page, AT_A_GLANCE + ["#override-deny"])
    assert played(page) == ["review"]
    screenshot(page, f"{language}-review")
    assert CheckIn.objects.get(gate=gate).decision == "review"
