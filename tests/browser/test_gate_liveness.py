"""The head-turn challenge from the gate page (issue 16): the page asks the server for a prompt,
shows it over the camera and sends a burst of frames with its token. The fake camera plays ORL
s1 turning its head (the same burst as tests/test_liveness_gate.py) or a printed photo of it
moved like a card.

The camera loops a clip: a marked first frame, the face still for TURN_AT seconds, the turn,
then the turned pose held. The test presses Space when it sees the mark, so the page's burst
(after its prompt lead) starts while the face is still and ends after the turn, as a person
who reads the prompt and then turns would."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from checkins import services as checkin_services
from enrollment.workflow import enrollment_process
from events.models import CheckIn, Event, Gate
from recognition.ml.dlib.models import dlib_model_path
from recognition.ml.runtime.detection import YuNetDetector
from recognition.ml.runtime.liveness_geometry import LandmarkPredictor68
from recognition.ml.tools import liveness_bursts as bursts
from tests.browser.camera import FPS, letterbox, write_y4m_sequence
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.browser.gate_checks import STAFF, check, expect_result
from tests.faces import VAL, consenting_holder, stored_photo
from tests.test_liveness_gate import jpeg

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

ORL = VAL.parents[1] / "orl-dev"
YUNET = VAL.parents[2] / "models" / "face_detection_yunet_2026may.onnx"
TURN_AT, TURN_FOR, HOLD_FOR = 1.4, 0.6, 1.6  # seconds of the clip
MARK = 24  # px: a white square in the letterbox's black corner on the clip's first frames


def clip(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The burst's first frame held, its other frames over TURN_FOR s, its last one held."""
    still = round(TURN_AT * FPS)
    step = max(1, round(TURN_FOR * FPS / (len(frames) - 1)))
    out = [frames[0]] * still
    for frame in frames[1:]:
        out += [frame] * step
    out += [frames[-1]] * round(HOLD_FOR * FPS)
    boxed = [letterbox(frame) for frame in out]  # fresh arrays: marking one marks no other
    boxed[0][:MARK, :MARK] = boxed[1][:MARK, :MARK] = 255
    return boxed


@pytest.fixture(scope="module")
def person() -> bursts.Person:
    predictor = LandmarkPredictor68(dlib_model_path("shape_predictor_68_face_landmarks"))
    return bursts.load_person(ORL / "s1", "test", 3, YuNetDetector(YUNET), predictor)


@pytest.fixture(scope="module")
def clips(person, tmp_path_factory) -> dict[str, str]:
    """The genuine turn and the printed card, as in tests/test_liveness_gate.py (same seeds)."""
    folder = tmp_path_factory.mktemp("liveness-clips")
    path = bursts.turn_path(person, bursts.DIRECTIONS["left"])
    genuine, _ = bursts.turn_burst(np.random.default_rng(1), person, path, 5)
    still = bursts.Still(person.photos[0], person.faces[0])
    size = person.photos[0].shape[1::-1]
    card, _ = bursts.attack_frames(
        np.random.default_rng(5), "print", [still], bursts.DIRECTIONS["left"], 5, size
    )
    return {
        "turn": str(write_y4m_sequence(clip(genuine), folder / "turn.y4m")),
        "card": str(write_y4m_sequence(clip(card), folder / "card.y4m")),
    }


@pytest.fixture
def video_browser(playwright):
    launched = []

    def launch(video: str):
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
            timeout=TIMEOUT_MS,
        )
        launched.append(browser)
        return browser

    yield launch
    for browser in launched:
        browser.close()


@pytest.fixture
def challenge_gate(enrolled, person, settings, monkeypatch):
    """A ticket + face gate of an event that asks for the head turn; ORL s1 enrolled as L-1."""
    event = enrolled.event
    Event.objects.filter(pk=event.pk).update(
        liveness=Event.Liveness.CHALLENGE, entry_policy=Event.EntryPolicy.RE_ENTRY
    )
    holder = consenting_holder(event, "L-1", "Lin Live")
    photo = stored_photo(holder, jpeg(person.photos[0]))
    enrollment_process(photo_ids=[photo.pk])
    settings.FACEPASS_GATE_TIMEOUT_SECONDS = 30
    settings.FACEPASS_GATE_RESULT_SECONDS = 600
    # The live server runs in this process: the prompt the server draws is "left", the way the
    # clips turn (a right prompt is the same code with the other sign).
    monkeypatch.setattr(checkin_services, "random_challenge", lambda: "left")
    return event.gates.get(mode=Gate.Mode.TICKET_AND_FACE)


def check_on_mark(page, code: str) -> None:
    """Type the code, wait for the clip's marked first frame, then press Space."""
    page.fill("#ticket", code)
    page.locator("#ticket").blur()
    page.wait_for_function(
        """mark => {
            const video = document.getElementById('preview');
            const canvas = document.createElement('canvas');
            canvas.width = video.videoWidth; canvas.height = video.videoHeight;
            const ctx = canvas.getContext('2d', { willReadFrequently: true });
            ctx.drawImage(video, 0, 0);
            const pixels = ctx.getImageData(4, 4, mark - 8, mark - 8).data;
            let sum = 0;
            for (let i = 0; i < pixels.length; i += 4) sum += pixels[i];
            return sum / (pixels.length / 4) > 200;
        }""",
        arg=MARK,
        polling=10,
    )
    page.keyboard.press("Space")


def open_challenge_gate(video_browser, open_page, log_in, gate, video: str):
    page = open_page(video_browser(video))
    log_in(page, *STAFF, next_path=f"/gate/{gate.pk}/")
    expect(page.locator("#camera-status")).to_have_text("Camera on")
    expect(page.locator("#check")).to_be_enabled()
    expect(page.locator("#auto")).to_be_hidden()  # each person is prompted: no auto capture
    return page


def test_a_live_head_turn_as_prompted_is_admitted_from_the_gate_page(
    challenge_gate, clips, video_browser, open_page, log_in, gate_staff, celery_worker_process,
    screenshot,
):  # fmt: skip
    page = open_challenge_gate(video_browser, open_page, log_in, challenge_gate, clips["turn"])
    check(page, lambda: check_on_mark(page, "l-1"))
    expect_result(page, "ADMIT", name="Lin Live")
    screenshot(page, "admit")
    checkin = CheckIn.objects.get(gate=challenge_gate)
    assert checkin.liveness["live"] is True and checkin.liveness["challenge"] == "left"


def test_a_printed_photo_moved_like_a_card_is_denied_as_not_live(
    challenge_gate, clips, video_browser, open_page, log_in, gate_staff, celery_worker_process,
    screenshot,
):  # fmt: skip
    page = open_challenge_gate(video_browser, open_page, log_in, challenge_gate, clips["card"])
    trigger = lambda: check_on_mark(page, "L-1")  # noqa: E731
    shown = page.locator("#result").get_attribute("data-shown") or "0"
    trigger()
    expect(page.locator("#prompt")).to_have_text("Slowly turn your head to your left")
    screenshot(page, "prompt")
    page.wait_for_function(
        "shown => document.getElementById('result').dataset.shown !== shown", arg=shown
    )
    expect_result(page, "DENY", "did not see a live person", name="Lin Live")
    screenshot(page, "not-live")
    checkin = CheckIn.objects.get(gate=challenge_gate)
    assert (checkin.decision, checkin.reason) == ("deny", "not_live")
    assert "parallax" in checkin.liveness["failed"]
