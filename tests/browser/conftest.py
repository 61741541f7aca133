"""Browser tests: Debian's Chromium (installed by scripts/browser.sh, never `playwright
install`) driven by Playwright, against pytest-django's live server.

Reusable building blocks for any page (the gate page now, registration next):
- `camera_browser(image_bytes)`: a Chromium whose camera shows that picture (one launch per
  picture, shared by the tests of this package);
- `open_page(browser)`: a fresh context and page on the live server (relative URLs work);
  JavaScript errors fail the test, and a failing test leaves a screenshot;
- `log_in(page, username, password, next_path)`: through the real login page;
- `screenshot(page, name)`: a PNG under test-artifacts/screenshots/ (or
  $FACEPASS_TEST_ARTIFACTS/screenshots/);
- `gate_staff` and `gate_page(gate, photo)`: a gate staff member logged in at a gate with a
  validation photo in front of the camera (checks on that page: tests/browser/gate_checks.py).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from events.models import Gate, Membership
from events.services import staff_user_create
from tests.browser.camera import write_y4m
from tests.browser.gate_checks import STAFF
from tests.conftest import REPO_ROOT
from tests.faces import val_photo

CHROMIUM = os.environ.get("FACEPASS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
# Generous: two shared CI cores run Chromium, the live server and a face worker at once.
TIMEOUT_MS = 60_000


def artifacts_dir() -> Path:
    return Path(os.environ.get("FACEPASS_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets `open_page` see whether the test body failed, to keep a screenshot of it.
    outcome = yield
    setattr(item, f"rep_{call.when}", outcome.get_result())


@pytest.fixture(scope="package")
def playwright():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/browser.sh (scripts/test.sh does).")
    # Playwright's sync API keeps an asyncio loop running in this thread until it stops, and
    # Django refuses ORM calls from a thread with a running loop. Test code here is plain
    # synchronous code, so allow it while (and only while) the browser tests run.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as pw:
            expect.set_options(timeout=TIMEOUT_MS)
            yield pw


@pytest.fixture(scope="package")
def camera_browser(playwright, tmp_path_factory):
    """camera_browser(image_bytes) -> a Chromium Browser whose camera shows that image."""
    folder = tmp_path_factory.mktemp("cameras")
    browsers = {}

    def launch(image: bytes):
        key = hashlib.sha256(image).hexdigest()[:16]
        if key not in browsers:
            video = write_y4m(image, folder / f"{key}.y4m")
            browsers[key] = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
                timeout=TIMEOUT_MS,
            )
        return browsers[key]

    yield launch
    for browser in browsers.values():
        browser.close()


@pytest.fixture
def screenshot(request):
    """screenshot(page, name) -> path of a full-page PNG named after the test."""
    folder = artifacts_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def take(page, name: str) -> Path:
        path = folder / f"{test_name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def open_page(request, live_server, screenshot):
    """open_page(browser, **context_options) -> a Page in a fresh context (own cookies) on the
    live server."""
    opened = []

    def open_(browser, **options):
        # options: more of Playwright's new_context arguments (viewport, locale, headers...)
        context = browser.new_context(
            **{
                "base_url": live_server.url,
                "viewport": {"width": 1100, "height": 1000},
                "permissions": ["camera"],
                **options,
            }
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        opened.append((context, page, errors))
        return page

    yield open_
    report = getattr(request.node, "rep_call", None)
    for number, (context, page, _) in enumerate(opened):
        if report is not None and report.failed:
            screenshot(page, f"failed-{number}")
        context.close()
    errors = [error for _, _, page_errors in opened for error in page_errors]
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def log_in():
    """log_in(page, username, password, next_path): through the login page, then next_path."""

    def log_in_(page, username: str, password: str, next_path: str = "/gate/"):
        page.goto(f"/accounts/login/?next={next_path}")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(f"**{next_path}")
        return page

    return log_in_


@pytest.fixture
def gate_staff(org_a):
    return staff_user_create(
        organization=org_a, username=STAFF[0], password=STAFF[1], role=Membership.Role.GATE_STAFF
    )


@pytest.fixture
def gate_page(camera_browser, open_page, log_in, gate_staff, settings):
    """gate_page(gate, photo) -> the gate page, logged in, with `photo` in front of the camera."""
    # The web side waits this long for the face worker; shared CI cores also run Chromium.
    settings.FACEPASS_GATE_TIMEOUT_SECONDS = 30

    def open_gate(gate: Gate, photo: tuple[int, int]):
        page = open_page(camera_browser(val_photo(*photo)))
        log_in(page, *STAFF, next_path=f"/gate/{gate.pk}/")
        expect(page.locator("#camera-status")).to_have_text("Camera on")
        expect(page.locator("#check")).to_be_enabled()
        return page

    return open_gate
