"""The API's Swagger UI in real Chromium, as an integrator tries it: the image endpoints offer a
file picker for their multipart body, and a photo chosen there reaches the API."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from api.services import api_key_create
from attendees.models import EnrollmentPhoto
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.faces import consenting_holder, val_photo

pytestmark = [pytest.mark.browser]

IMAGE_OPERATIONS = [
    ("post", "/api/v1/events/{event_id}/holders/{holder_id}/photos/", ["image"]),
    ("post", "/api/v1/events/{event_id}/verify/", ["image"]),
    ("post", "/api/v1/events/{event_id}/identify/", ["image"]),
    ("post", "/api/v1/checkins/", ["image", "images"]),
]


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
    )
    yield browser
    browser.close()


def operation(page, method: str, path: str):
    """The operation's block in Swagger UI, expanded."""
    block = page.locator(f".opblock-{method}:has(.opblock-summary-path[data-path='{path}'])")
    block.locator(".opblock-summary").first.click()
    return block


def test_the_image_endpoints_offer_a_file_picker_for_multipart_in_swagger_ui(
    browser, open_page, screenshot
):
    page = open_page(browser)
    page.goto("/api/docs/")
    expect(page.get_by_role("heading", name="Getting started")).to_be_visible()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_attached()
    for method, path, fields in IMAGE_OPERATIONS:
        block = operation(page, method, path)
        content_type = block.locator(".body-param-content-type select")
        expect(content_type).to_have_value("multipart/form-data")
        # The JSON alternative stays documented, with the base64 fields.
        content_type.select_option("application/json")
        expect(block.locator(".opblock-section-request-body")).to_contain_text("image_base64")
        content_type.select_option("multipart/form-data")
        block.get_by_role("button", name="Try it out").click()
        for field in fields:
            row = block.locator(f"tr[data-property-name='{field}']")
            expect(row.locator("input[type=file]").first).to_be_visible()
    screenshot(page, "swagger-image-endpoints")


def test_a_photo_chosen_in_swagger_ui_is_uploaded_as_a_file(
    browser, open_page, screenshot, event_a, tmp_path
):
    holder = consenting_holder(event_a, "SW-1", "Swagger Sam")
    _, key = api_key_create(organization=event_a.organization, name="docs")
    photo = tmp_path / "selfie.jpg"
    photo.write_bytes(val_photo(6, 0))
    page = open_page(browser)
    page.goto("/api/docs/")
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    expect(dialog).to_contain_text("fp_<prefix>_<secret>")  # the key format, not "fp__"
    expect(dialog).to_contain_text("/admin/api/apikey/add/")
    dialog.locator(".auth-container input").fill(key)
    dialog.get_by_role("button", name="Apply credentials").click()
    dialog.locator("button.btn-done").click()

    block = operation(page, "post", "/api/v1/events/{event_id}/holders/{holder_id}/photos/")
    block.get_by_role("button", name="Try it out").click()
    block.locator("tr[data-param-name='event_id'] input").fill(str(event_a.pk))
    block.locator("tr[data-param-name='holder_id'] input").fill(str(holder.pk))
    block.locator("input[type=file]").set_input_files(str(photo))
    block.get_by_role("button", name="Execute").click()

    expect(block.locator(".live-responses-table tbody .response-col_status").first).to_have_text(
        "202"
    )
    screenshot(page, "swagger-photo-uploaded")
    uploaded = EnrollmentPhoto.objects.get(holder=holder)
    assert uploaded.image.read() == val_photo(6, 0)
