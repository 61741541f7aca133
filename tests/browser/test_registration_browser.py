"""Registration end to end in real Chromium: an attendee gives consent and enrolls a selfie on
the page (live camera or file), the real Celery worker judges it, and the gate then admits that
face once and denies a stranger."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from django.conf import settings
from playwright.sync_api import expect

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import registration_path
from attendees.services import ticket_holder_create
from common.reasons import Reason, reason_text
from events.models import CheckIn, Gate
from recognition.models import FaceEmbedding
from tests.browser.gate_checks import check, expect_result, expect_thumbnail
from tests.faces import val_photo

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

SELFIE = (6, 0)  # what the attendee's camera shows when she registers
SAME_PERSON_AGAIN = (6, 1)  # another photo of her, at the gate
STRANGER = (8, 0)
NAME = "Rita Register"
# The first photo a fresh worker judges also waits for it to load the face models.
ENROLL_TIMEOUT_MS = 120_000

CONSENT_GIVEN = "Consent given. Add a selfie so your face can open the gate."
REGISTERED = "You are registered: your face will open the gate."

# What an attendee reads about a rejected photo: the advice of the reason vocabulary.
MESSAGES = {"no_face": reason_text(Reason.NO_FACE, advice=True)}


@pytest.fixture
def attendee(event_a, default_model):
    """A ticket holder as the ticketing system created them: no consent, no photo yet."""
    return ticket_holder_create(
        event=event_a, ticket_code="R-1", name=NAME, email="Rita@Example.org"
    )


def gradient_png() -> bytes:
    """A picture without a face: a smooth colour gradient."""
    across = np.tile(np.linspace(0, 255, 640), (480, 1))
    down = np.tile(np.linspace(0, 255, 480)[:, None], (1, 640))
    image = np.dstack([across, down, 255 - across]).astype(np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


def give_consent(page) -> None:
    expect(page.get_by_role("heading", name="Consent to biometric processing")).to_be_visible()
    expect(page.locator("#photo")).to_have_count(0)  # no photo before consent
    page.get_by_label("I agree to the processing of my face data").check()
    page.get_by_role("button", name="Give consent and continue").click()
    expect(page.locator("#status-text")).to_have_text(CONSENT_GIVEN)
    expect(page.get_by_role("heading", name="Your selfie")).to_be_visible()


def expect_photos_shown(page, labels: list[str]) -> None:
    """The page lists these photos, newest first, with their thumbnails loaded."""
    items = page.locator("#photo-list li.photo")
    expect(items.locator(".photo-label")).to_have_text(labels)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#photo-list img'))"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )


def expect_accepted(page) -> None:
    """The page itself (polling the status) says the newest photo was accepted."""
    expect(page.locator("#upload-message")).to_have_text(
        f"Your photo was accepted. {REGISTERED}", timeout=ENROLL_TIMEOUT_MS
    )
    expect(page.locator("#status-text")).to_have_text(REGISTERED)
    expect(page.locator("#photos-in-use")).to_have_text("1")


def test_an_attendee_enrolls_with_the_live_camera_and_her_face_opens_the_gate_only_once(
    attendee, celery_worker_process, camera_browser, open_page, gate_page, screenshot
):
    # Registration, as the attendee does it from the link in her e-mail.
    page = open_page(camera_browser(val_photo(*SELFIE)))
    page.goto(registration_path(attendee))
    expect(page.get_by_role("heading", name="Alpha Cup Final")).to_be_visible()
    expect(page.locator(".subtitle")).to_contain_text(f"{NAME} · ticket R-1")
    screenshot(page, "registration-before")

    give_consent(page)
    page.get_by_role("button", name="Take a selfie").click()
    expect(page.locator("#camera-preview")).to_be_visible()
    page.wait_for_function("() => document.getElementById('camera-preview').videoWidth > 0")
    screenshot(page, "registration-camera")

    page.get_by_role("button", name="Take photo").click()
    expect_accepted(page)
    expect_photos_shown(page, ["Accepted"])
    expect(page.locator("#photo-list .photo-text")).to_have_text("This photo is good.")
    screenshot(page, "registration-accepted")

    attendee.refresh_from_db()
    assert attendee.status == TicketHolder.Status.ENROLLED
    assert attendee.consent_text_version == settings.FACEPASS_CONSENT_TEXT_VERSION
    photo = attendee.photos.get()
    assert photo.status == EnrollmentPhoto.Status.ACCEPTED
    assert FaceEmbedding.objects.filter(photo=photo).exists()

    # The gate, with the holder the page just enrolled and nobody else.
    gate = attendee.event.gates.get(mode=Gate.Mode.FACE_ONLY)
    holder_at_gate = gate_page(gate, SAME_PERSON_AGAIN)
    check(holder_at_gate, lambda: holder_at_gate.keyboard.press("Space"))
    expect_result(holder_at_gate, "ADMIT", name=NAME)
    expect(holder_at_gate.locator("#result")).to_have_class("result admit")
    expect_thumbnail(holder_at_gate)
    screenshot(holder_at_gate, "gate-admit")

    stranger = gate_page(gate, STRANGER)
    check(stranger, lambda: stranger.locator("#check").click())
    expect_result(stranger, "DENY", "No enrolled ticket holder of this event matches")
    expect(stranger.locator("#result")).to_have_class("result deny")
    screenshot(stranger, "gate-stranger-denied")

    check(holder_at_gate, lambda: holder_at_gate.locator("#check").click())
    expect_result(holder_at_gate, "DENY", "already been used to enter", name=NAME)
    expect(holder_at_gate.locator("#result")).to_have_class("result deny")
    screenshot(holder_at_gate, "gate-already-checked-in")

    decisions = list(
        CheckIn.objects.filter(gate=gate)
        .order_by("created_at")
        .values_list("decision", "reason", "attendee")
    )
    assert decisions == [
        ("admit", "", attendee.pk),
        ("deny", "no_match", None),
        ("deny", "already_checked_in", attendee.pk),
    ]


def test_an_uploaded_photo_without_a_face_is_refused_in_plain_words_and_a_retake_is_accepted(
    attendee, celery_worker_process, camera_browser, open_page, screenshot
):
    # Without the link: ticket code and e-mail (in another case) lead to the same page.
    page = open_page(camera_browser(val_photo(*SELFIE)))
    page.goto("/register/")
    page.get_by_label("Ticket code").fill("R-1")
    page.get_by_label("E-mail address on the ticket").fill("rita@example.org")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/register/[^/]+/$"))
    expect(page.locator(".subtitle")).to_contain_text(f"{NAME} · ticket R-1")
    give_consent(page)
    screenshot(page, "registration-before-upload")

    page.get_by_label("Choose a photo file").set_input_files(
        {"name": "holiday.png", "mimeType": "image/png", "buffer": gradient_png()}
    )
    expect(page.locator("#upload-message")).to_have_text(
        f"This photo could not be used: {MESSAGES['no_face']}", timeout=ENROLL_TIMEOUT_MS
    )
    expect(page.locator("#upload-message")).to_have_class("error feedback")
    expect_photos_shown(page, ["Not usable"])
    expect(page.locator("#photo-list .photo-text")).to_have_text(MESSAGES["no_face"])
    expect(page.locator("#status-text")).to_have_text(CONSENT_GIVEN)
    expect(page.locator("#photo-count")).to_have_text("1")  # listed
    expect(page.locator("#photos-in-use")).to_have_text("0")  # a refused photo leaves room
    screenshot(page, "registration-rejected")

    page.get_by_label("Take a selfie").set_input_files(
        {"name": "selfie.jpg", "mimeType": "image/jpeg", "buffer": val_photo(*SELFIE)}
    )
    expect_accepted(page)
    expect_photos_shown(page, ["Accepted", "Not usable"])
    screenshot(page, "registration-accepted")

    statuses = list(attendee.photos.order_by("created_at").values_list("status", "rejection_code"))
    assert statuses == [("rejected", "no_face"), ("accepted", "")]
    attendee.refresh_from_db()
    assert attendee.status == TicketHolder.Status.ENROLLED
