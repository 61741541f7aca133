"""Checks on the gate page shared by the browser tests (fixtures: `gate_page` in conftest)."""

from __future__ import annotations

from playwright.sync_api import expect

STAFF = ("gina", "pw-gina-123")  # the `gate_staff` fixture's user name and password


def check(page, trigger) -> None:
    """Trigger a check (key, tap or typed ticket) and wait until its result is shown."""
    shown = page.locator("#result").get_attribute("data-shown") or "0"
    trigger()
    page.wait_for_function(
        "shown => document.getElementById('result').dataset.shown !== shown", arg=shown
    )


def reload_gate(page) -> None:
    """Reload the gate page and wait until it can check again: a ticket typed before the camera
    is back is ignored (the check button is disabled), as it is for staff."""
    page.reload()
    expect(page.locator("#check")).to_be_enabled()


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
