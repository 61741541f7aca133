"""The attendee's pages on a 390x844 phone, in English and Spanish: the photo feedback sits
beside the camera without scrolling, the camera closes once a photo is accepted, the consent
text is in the page flow and true to the event, and a browser that asks for Spanish gets
Spanish. Screenshots of every attendee page in both languages go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from attendees.registration_links import registration_path
from attendees.services import ticket_holder_create
from events.services import event_update
from tests.faces import val_photo

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
LANGUAGES = {"en": "en-US,en;q=0.9", "es": "es-CO,es;q=0.9"}
SELFIE = (6, 0)
ENROLL_TIMEOUT_MS = 120_000  # the first photo also waits for the worker to load its models

# True when the whole element is inside the viewport as it stands (no scrolling needed).
IN_VIEW = """el => { const r = el.getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }"""


def phone(page, language: str):
    page.set_viewport_size(PHONE)
    page.set_extra_http_headers({"Accept-Language": LANGUAGES[language]})
    return page


def expect_in_view(page, selector: str) -> None:
    assert page.locator(selector).evaluate(IN_VIEW), f"{selector} is not visible without scrolling"


@pytest.fixture
def newcomer(event_a):
    """A ticket holder of an event that keeps gate frames 24 hours and photos 14 days."""
    event_update(event=event_a, dispute_frame_retention_hours=24, biometric_retention_days=14)
    return ticket_holder_create(event=event_a, ticket_code="P-1", name="Paula", email="p@x.co")


def expect_consent_in_page_flow(page) -> None:
    """Every section is laid out in the page (no box scrolling on its own) before I agree."""
    text = page.locator(".consent-text")
    assert text.evaluate("el => el.scrollHeight <= el.clientHeight + 1")
    assert text.evaluate("el => getComputedStyle(el).overflowY") == "visible"
    headings = page.locator(".consent-text h3")
    expect(headings).to_have_count(5)
    agree_top = page.locator("input[name=agree]").evaluate("el => el.getBoundingClientRect().top")
    last = headings.last.evaluate("el => el.getBoundingClientRect().bottom")
    assert last < agree_top


@pytest.mark.worker
@pytest.mark.slow
def test_on_a_phone_photo_feedback_shows_beside_the_camera_and_the_camera_closes_once_accepted(
    newcomer, default_model, celery_worker_process, camera_browser, open_page, screenshot
):
    page = phone(open_page(camera_browser(val_photo(*SELFIE))), "en")
    page.goto(registration_path(newcomer))
    expect_consent_in_page_flow(page)
    expect(page.locator("#consent-collect")).to_contain_text("kept for 24 hours")
    expect(page.locator("#consent-retention")).to_contain_text("deleted 14 days after")
    page.get_by_label("I agree to the processing of my face data").check()
    page.get_by_role("button", name="Give consent and continue").click()

    # One primary action (the live camera) and one secondary (a file); nothing else.
    actions = page.locator("#photo button:visible, #photo label.file-button:visible")
    expect(actions).to_have_text(["Take a selfie", "Choose a photo file"])
    expect(page.locator("#camera-start")).to_have_class("primary")
    expect(page.locator("#choose-file")).to_have_class("file-button secondary")
    expect(page.locator("#selfie-file")).to_be_hidden()
    screenshot(page, "phone-en-photo")

    page.get_by_role("button", name="Take a selfie").click()
    page.wait_for_function("() => document.getElementById('camera-preview').videoWidth > 0")
    expect(page.locator("#choose-file")).to_be_hidden()  # the camera's own buttons only
    scrolled = page.evaluate("window.scrollY")
    page.get_by_role("button", name="Take photo").click()
    expect(page.locator("#upload-message")).to_have_text("Photo received. Checking it…")
    expect_in_view(page, "#upload-message")
    expect_in_view(page, "#camera-take")
    screenshot(page, "phone-en-checking")

    feedback = page.locator("#upload-message")
    expect(feedback).to_contain_text("Your photo was accepted.", timeout=ENROLL_TIMEOUT_MS)
    expect_in_view(page, "#upload-message")
    expect(page.locator("#camera")).to_be_hidden()
    assert page.evaluate(
        "document.getElementById('camera-preview').srcObject === null || "
        "document.getElementById('camera-preview').srcObject.getTracks()"
        ".every(t => t.readyState === 'ended')"
    )
    assert page.evaluate("window.scrollY") == scrolled  # the page itself did not have to move
    expect(page.locator("#photo-count")).to_have_text("1")
    screenshot(page, "phone-en-accepted")


def test_a_browser_asking_for_spanish_gets_every_attendee_page_in_spanish_true_to_the_event(
    newcomer, camera_browser, open_page, screenshot
):
    page = phone(open_page(camera_browser(val_photo(*SELFIE))), "es")
    page.goto("/register/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Registre su rostro para entrar")).to_be_visible()
    screenshot(page, "phone-es-start")

    page.get_by_label("Código de la boleta").fill("p-9")
    page.get_by_label("Correo electrónico de la boleta").fill("p@x.co")
    page.get_by_role("button", name="Continuar").click()
    expect(page.locator(".error")).to_have_text(
        "No encontramos una boleta con este código y este correo electrónico. Revise ambos."
    )
    page.goto("/register/1:not-a-token/")
    expect(page.get_by_role("heading", name="Este enlace no funciona")).to_be_visible()
    screenshot(page, "phone-es-link-error")

    page.goto(registration_path(newcomer))
    heading = "Consentimiento para el tratamiento de datos biométricos"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect_consent_in_page_flow(page)
    expect(page.locator("#consent-collect")).to_contain_text("se guardan 24 horas")
    expect(page.locator("#consent-retention")).to_contain_text("14 días después")
    expect(page.locator("#consent-who")).to_contain_text("El personal de Alpha Arenas")
    expect(page.locator("#event-time")).to_contain_text(f"({newcomer.event.time_zone}, UTC")
    screenshot(page, "phone-es-consent")

    page.get_by_label("Acepto el tratamiento de los datos de mi rostro").check()
    page.get_by_role("button", name="Dar mi consentimiento y continuar").click()
    expect(page.locator("#status-text")).to_have_text(
        "Consentimiento dado. Agregue una selfi para que su rostro le abra la puerta."
    )
    expect(page.get_by_role("button", name="Tomarme una selfi")).to_be_visible()
    expect(page.locator("#choose-file")).to_have_text("Elegir un archivo de foto")
    newcomer.refresh_from_db()
    assert newcomer.consent_text_version == settings.FACEPASS_CONSENT_TEXT_VERSION
    screenshot(page, "phone-es-photo")

    page.get_by_role("link", name="Borrar mis fotos y los datos de mi rostro").click()
    expect(
        page.get_by_role("heading", name="¿Borrar sus fotos y los datos de su rostro?")
    ).to_be_visible()
    screenshot(page, "phone-es-delete-confirm")

    # The switcher: English for this visitor from now on, whatever the browser says.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Delete your photos and face data?")).to_be_visible()


def test_screenshots_of_the_attendee_pages_in_english(
    newcomer, camera_browser, open_page, screenshot
):
    page = phone(open_page(camera_browser(val_photo(*SELFIE))), "en")
    for name, path in (
        ("start", "/register/"),
        ("link-error", "/register/1:not-a-token/"),
        ("consent", registration_path(newcomer)),
    ):
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        screenshot(page, f"phone-en-{name}")
    page.get_by_label("I agree to the processing of my face data").check()
    page.get_by_role("button", name="Give consent and continue").click()
    expect(page.get_by_role("heading", name="Your selfie")).to_be_visible()
    page.get_by_role("link", name="Delete my photos and face data").click()
    expect(page.get_by_role("heading", name="Delete your photos and face data?")).to_be_visible()
    screenshot(page, "phone-en-delete-confirm")
