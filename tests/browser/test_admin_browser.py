"""The organizer's admin in Chromium at a laptop's 1366x900 (issue 16): the home's event table,
the event dashboard, the holder list and page (copy button), the check-in log and the API keys,
with a screenshot of each under test-artifacts/screenshots/."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone, translation
from django.utils.translation import gettext
from PIL import Image
from playwright.sync_api import expect

from api.services import api_key_create, api_key_revoke
from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import ticket_holder_create, ticket_holder_record_consent
from events.models import CheckIn
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1366, "height": 900}
ORGANIZER = ("alice", "pw-alice-123")


@pytest.fixture(scope="module")
def desktop_browser(playwright):
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
    )
    yield browser
    browser.close()


def _photo(holder, status, code="", colour=(200, 120, 90), size=(400, 300)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    photo = EnrollmentPhoto(holder=holder, status=status, rejection_code=code)
    photo.image.save("x.jpg", ContentFile(buf.getvalue()), save=False)
    photo.save()


def _populate(event):
    """Holders in every state, photos of two shapes, and a day of gate traffic."""
    north, lane = event.gates.get(name="North"), event.gates.get(name="Face lane")
    holders = []
    for n in range(1, 13):
        holder = ticket_holder_create(
            event=event, ticket_code=f"DEMO-{n:04d}", name=f"Held out {n}", email=f"h{n}@x.org"
        )
        holders.append(holder)
        if n <= 9:
            ticket_holder_record_consent(holder=holder, text_version="2026-11")
        if n <= 6:
            _photo(holder, "accepted", size=(300, 400) if n % 2 else (400, 300))
            TicketHolder.objects.filter(pk=holder.pk).update(status="enrolled")
        elif n <= 8:
            _photo(holder, "rejected", code="too_dark" if n == 7 else "too_blurred")
    TicketHolder.objects.filter(pk=holders[2].pk).update(needs_review=True)
    now = timezone.now()
    rows = [
        (north, "admit", holders[0], "", 0.912345, 3),
        (north, "admit", holders[1], "", 0.8711, 2),
        (lane, "admit", holders[2], "", 0.7777, 2),
        (lane, "admit", holders[3], "", 0.8123, 1),
        (north, "deny", holders[6], "not_enrolled", None, 1),
        (lane, "deny", None, "no_match", 0.4021, 1),
        (north, "deny", holders[0], "already_checked_in", None, 0),
        (lane, "review", holders[4], "needs_review", 0.6012, 0),
    ]
    for gate, decision, holder, reason, score, hours_ago in rows:
        checkin = CheckIn.objects.create(
            event=event,
            gate=gate,
            attendee=holder,
            decision=decision,
            mode=gate.mode,
            reason=reason,
            score=score,
        )
        when = now - timedelta(hours=hours_ago, minutes=5)
        CheckIn.objects.filter(pk=checkin.pk).update(created_at=when)
    return holders


def _admin_page(desktop_browser, live_server):
    context = desktop_browser.new_context(
        base_url=live_server.url,
        viewport=DESKTOP,
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", ORGANIZER[0])
    page.fill("#id_password", ORGANIZER[1])
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/")
    return page, errors


def _inside_viewport(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= DESKTOP["width"]


def test_an_organizer_walks_the_admin_from_the_home_to_the_check_ins(
    desktop_browser, live_server, organizer_a, event_a, org_a, screenshot
):
    holders = _populate(event_a)
    live, _ = api_key_create(organization=org_a, name="ticket shop")
    old, _ = api_key_create(organization=org_a, name="old box office")
    api_key_revoke(key=old)
    page, errors = _admin_page(desktop_browser, live_server)

    row = page.locator("#event-overview tbody tr").first
    expect(row).to_contain_text(event_a.name)
    expect(row.locator("td.fp-count").first).to_have_text("12")
    screenshot(page, "admin-home")

    row.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#holder-counts")).to_contain_text("Ticket holders")
    expect(page.locator("#checkins-by-hour .fp-bar")).to_have_count(3)
    expect(page.locator("#denials-by-reason")).to_contain_text("Already checked in")
    assert _inside_viewport(page.locator("#checkins-by-hour"))
    screenshot(page, "event-dashboard")

    page.locator("#rejected-by-reason").get_by_role("link", name="Too dark").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("Held out 7")

    page.goto(f"/admin/attendees/ticketholder/?event__id__exact={event_a.pk}")
    names = page.locator("#result_list tbody th").all_inner_texts()
    assert names[:3] == ["Held out 1", "Held out 2", "Held out 3"]
    sizes = {
        (round(b["width"]), round(b["height"]))
        for b in (img.bounding_box() for img in page.locator("img.fp-thumb").all())
    }
    assert sizes == {(64, 64)}
    expect(page.locator("#result_list")).to_contain_text("Check faces")
    screenshot(page, "ticket-holders")

    page.goto(f"/admin/attendees/ticketholder/{holders[0].pk}/change/")
    page.locator("#issue-link").click()
    link = page.locator("#registration-link")
    shown = link.input_value()
    page.reload()
    assert page.locator("#registration-link").input_value() == shown
    page.locator("button[data-copy=registration-link]").click()
    expect(page.locator("button[data-copy=registration-link]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    expect(page.locator(".field-checkins")).to_contain_text("Admit")
    screenshot(page, "ticket-holder")

    page.goto("/admin/events/checkin/")
    first = page.locator("#result_list tbody tr").first
    assert _inside_viewport(first.locator("td.field-decision_badge"))
    assert _inside_viewport(first.locator("td").last)  # the whole row, no sideways scroll
    expect(page.locator("#result_list")).to_contain_text("0.912")
    expect(page.locator("#result_list")).not_to_contain_text("0.912345")
    screenshot(page, "check-ins")

    page.goto("/admin/api/apikey/")
    expect(page.locator("#result_list del")).to_have_text("old box office")
    screenshot(page, "api-keys")
    page.locator("select[name=action]").select_option("revoke_keys")
    page.locator(f"input[name=_selected_action][value='{live.pk}']").check()
    page.locator("button[name=index]").click()
    expect(page.locator("#keys-to-revoke")).to_contain_text("ticket shop")
    screenshot(page, "api-key-revoke-confirm")
    page.get_by_role("button", name="Yes, revoke these keys").click()
    expect(page.locator(".messagelist")).to_contain_text("1 API key revoked")
    assert not errors, errors
    page.context.close()


def test_the_home_page_and_the_404_page_at_desktop_size(desktop_browser, live_server, screenshot):
    context = desktop_browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("#door-admin")).to_be_visible()
    screenshot(page, "home")
    response = page.goto("/no/such/page")
    assert response is not None and response.status == 404
    expect(page.locator("main h1")).to_have_text("Page not found")
    screenshot(page, "not-found")
    context.close()


def test_the_organizer_pages_speak_spanish_to_a_spanish_browser(
    desktop_browser, live_server, organizer_a, event_a, screenshot
):
    _populate(event_a)
    api_key_create(organization=event_a.organization, name="ticket shop")
    with translation.override("es"):
        expected = {key: gettext(key) for key in ("Ticket holders", "Page not found")}
    assert all(expected[key] != key for key in expected), "the catalogue lacks these texts"
    context = desktop_browser.new_context(
        base_url=live_server.url,
        viewport=DESKTOP,
        locale="es-CO",
        extra_http_headers={"Accept-Language": "es-CO,es;q=0.9"},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "es"
    screenshot(page, "es-home")
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", ORGANIZER[0])
    page.fill("#id_password", ORGANIZER[1])
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/")
    screenshot(page, "es-admin-home")
    page.goto(f"/admin/events/event/{event_a.pk}/dashboard/")
    expect(page.locator("#holder-counts")).to_contain_text(expected["Ticket holders"])
    screenshot(page, "es-event-dashboard")
    for name, url in (
        ("es-ticket-holders", "/admin/attendees/ticketholder/"),
        ("es-check-ins", "/admin/events/checkin/"),
        ("es-api-keys", "/admin/api/apikey/"),
    ):
        page.goto(url)
        expect(page.locator("#result_list")).to_be_visible()
        screenshot(page, name)
    page.goto("/no/such/page")
    expect(page.locator("main h1")).to_have_text(expected["Page not found"])
    screenshot(page, "es-not-found")
    context.close()
