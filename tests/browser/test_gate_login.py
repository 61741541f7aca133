"""The gate's way in: a styled login with inputs a thumb can hit, then gates grouped by event
as large buttons (issue 16, gate staff item 6); screenshots in English and Spanish."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from events.models import Gate
from events.services import gate_create
from tests.browser.gate_checks import STAFF
from tests.conftest import make_event
from tests.faces import blank_jpeg

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}


def box(page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_login_is_a_card_with_large_inputs_and_the_chooser_groups_gates_by_event(
    camera_browser, open_page, event_a, gate_staff, org_a, screenshot, language
):
    cup = make_event(org_a, "Beta Open")
    gate_create(event=cup, name="West", mode=Gate.Mode.FACE_ONLY)
    closed = gate_create(event=cup, name="Closed lane", mode=Gate.Mode.FACE_ONLY)
    Gate.objects.filter(pk=closed.pk).update(is_active=False)
    page = open_page(
        camera_browser(blank_jpeg()),
        viewport=PHONE,
        locale=language,
        extra_http_headers={"Accept-Language": language},
    )
    page.goto("/accounts/login/?next=/gate/")
    for field in ("#id_username", "#id_password", ".login-card button[type=submit]"):
        assert box(page, field)["height"] >= 48, field
    assert box(page, "#id_username")["width"] >= 300
    screenshot(page, f"{language}-login")
    page.fill("#id_username", STAFF[0])
    page.fill("#id_password", "not her password")
    page.locator(".login-card button[type=submit]").click()
    expect(page.locator(".login-error")).to_be_visible()
    expect(page.locator("#id_username")).to_have_value(STAFF[0])  # only the password is retyped
    screenshot(page, f"{language}-login-error")

    page.fill("#id_password", STAFF[1])
    page.locator(".login-card button[type=submit]").click()
    page.wait_for_url("**/gate/")
    page.set_viewport_size(TABLET)
    events = page.locator(".gate-event")
    expect(events).to_have_count(2)
    expect(events.nth(0).locator("h2")).to_have_text(event_a.name)
    expect(events.nth(0).locator(".gate-buttons a")).to_have_count(2)
    expect(events.nth(1).locator("h2")).to_have_text("Beta Open")
    expect(events.nth(1).locator(".gate-buttons a")).to_have_count(1)  # switched-off gates: none
    for index in range(3):
        button = page.locator(".gate-buttons a").nth(index).bounding_box()
        assert button["height"] >= 64 and button["width"] >= 200, button
    screenshot(page, f"{language}-chooser")
    page.locator(".gate-buttons a", has_text="West").click()
    expect(page.locator(".gate-head h1")).to_contain_text("Beta Open · West")
