"""Presentation-attack detection at the gate: a live head turning as prompted is admitted, a
photo moved as a card is denied as not_live, and a head-turn prompt is good for one attempt at
one gate only."""

import cv2
import numpy as np
import pytest
from django.core import signing

from checkins import services as checkin_services
from checkins.services import (
    CheckInRequest,
    checkin_perform,
    liveness_challenge_issue,
    liveness_challenge_redeem,
)
from common.reasons import ReasonError
from enrollment.workflow import enrollment_process
from events.models import Event
from recognition.ml.dlib.models import dlib_model_path
from recognition.ml.runtime.detection import YuNetDetector
from recognition.ml.runtime.liveness_geometry import LandmarkPredictor68
from recognition.ml.tools import liveness_bursts as bursts
from tests.api.conftest import api_client
from tests.faces import VAL, consenting_holder, stored_photo

ORL = VAL.parents[1] / "orl-dev"
YUNET = VAL.parents[2] / "models" / "face_detection_yunet_2026may.onnx"


def jpeg(frame) -> bytes:
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


@pytest.fixture(scope="module")
def person() -> bursts.Person:
    """ORL s1, upscaled 3x: turns clearly both ways in its sitting (see tests/ml)."""
    predictor = LandmarkPredictor68(dlib_model_path("shape_predictor_68_face_landmarks"))
    return bursts.load_person(ORL / "s1", "test", 3, YuNetDetector(YUNET), predictor)


@pytest.fixture
def challenge_event(event_a):
    Event.objects.filter(pk=event_a.pk).update(
        liveness=Event.Liveness.CHALLENGE, entry_policy=Event.EntryPolicy.RE_ENTRY
    )
    event_a.refresh_from_db()
    return event_a


def test_the_liveness_policy_follows_the_security_level_unless_the_event_chooses(event_a):
    assert (event_a.security_level, event_a.liveness_policy) == ("standard", "off")
    event_a.security_level = "high"
    assert event_a.liveness_policy == "challenge"
    event_a.liveness = Event.Liveness.OFF
    assert event_a.liveness_policy == "off"


def test_a_head_turn_prompt_is_good_once_at_its_own_gate(challenge_event, monkeypatch):
    north, face_lane = challenge_event.gates.order_by("name")
    issued = liveness_challenge_issue(gate=north)
    assert issued.direction in ("left", "right")
    with pytest.raises(ReasonError) as other_gate:
        liveness_challenge_redeem(gate=face_lane, token=issued.token)
    assert other_gate.value.code == "challenge_invalid"
    fresh = liveness_challenge_issue(gate=north)
    assert liveness_challenge_redeem(gate=north, token=fresh.token) == fresh.direction
    with pytest.raises(ReasonError, match="expired or was already used"):
        liveness_challenge_redeem(gate=north, token=fresh.token)
    late = liveness_challenge_issue(gate=north)
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() + 120)
    with pytest.raises(ReasonError):
        liveness_challenge_redeem(gate=north, token=late.token)


def test_a_challenge_gate_refuses_frames_without_a_prompt(challenge_event):
    gate = challenge_event.gates.get(mode="face_only")
    with pytest.raises(ReasonError) as refused:
        checkin_perform(CheckInRequest.at_gate(gate, [b"x"]))
    assert (refused.value.code, refused.value.status) == ("challenge_required", 400)


def test_the_api_hands_out_prompts_and_takes_bursts(challenge_event):
    api = api_client(challenge_event.organization)
    gate = challenge_event.gates.get(mode="face_only")
    prompt = api.post("/api/v1/checkins/challenge/", {"gate": gate.pk}, format="json").json()
    assert prompt["direction"] in prompt["prompt"] and prompt["expires_in"] == 60
    both = api.post(
        "/api/v1/checkins/",
        {"gate": gate.pk, "image_base64": "x", "images_base64": ["x"]},
        format="json",
    )
    assert (both.status_code, both.json()["code"]) == (400, "invalid")
    no_prompt = api.post("/api/v1/checkins/", {"gate": gate.pk, "images_base64": []}, format="json")
    assert no_prompt.status_code == 400


@pytest.mark.worker
def test_at_a_challenge_event_a_live_turn_is_admitted_and_a_photo_card_is_denied(
    challenge_event, default_model, person, celery_worker_process, monkeypatch, settings
):
    # About liveness, not latency: a loaded test machine may need more than the gate's 5 s.
    settings.FACEPASS_GATE_TIMEOUT_SECONDS = 30
    holder = consenting_holder(challenge_event, "L-1", "Lin Live")
    photo = stored_photo(holder, jpeg(person.photos[0]))
    enrollment_process(photo_ids=[photo.pk])
    gate = challenge_event.gates.get(mode="ticket_face")
    monkeypatch.setattr(checkin_services, "random_challenge", lambda: "left")

    def attempt(frames):
        token = liveness_challenge_issue(gate=gate).token
        request = CheckInRequest.at_gate(
            gate, [jpeg(f) for f in frames], ticket_code="L-1", challenge_token=token
        )
        return checkin_perform(request).checkin

    # The burst generator's own code and seeds, as in tests/ml/test_liveness.py.
    path = bursts.turn_path(person, bursts.DIRECTIONS["left"])
    genuine, _ = bursts.turn_burst(np.random.default_rng(1), person, path, 5)
    admitted = attempt(genuine)
    assert (admitted.decision, admitted.attendee) == ("admit", holder), admitted.reason
    assert admitted.liveness["live"] is True and admitted.liveness["challenge"] == "left"

    still = bursts.Still(person.photos[0], person.faces[0])
    size = person.photos[0].shape[1::-1]
    card, _ = bursts.attack_frames(
        np.random.default_rng(5), "print", [still], bursts.DIRECTIONS["left"], 5, size
    )
    denied = attempt(card)
    assert (denied.decision, denied.reason, denied.attendee) == ("deny", "not_live", holder)
    assert denied.liveness["live"] is False and "parallax" in denied.liveness["failed"]
