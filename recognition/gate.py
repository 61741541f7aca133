"""Web half of a gate decision: checks that need no face, the face work on the `gate`
queue (the web process never loads a model), then the decision from the active
model's measured thresholds at the event's security level.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings

from attendees.models import TicketHolder
from events.models import Event, Gate
from facepass_site.health import live_workers
from facepass_site.unavailable import QUEUE_ERRORS
from recognition.models import EmbeddingModel
from recognition.selectors import (
    active_model,
    holder_similarity,
    model_threshold,
    nearest_holders,
)

REASONS = {
    "no_face": "No face found in the camera frame.",
    "multiple_faces": "Several faces in the frame: one person at a time.",
    "not_enrolled": "This ticket holder has no enrolled face.",
    "face_mismatch": "The face does not match the ticket holder.",
    "no_match": "No enrolled ticket holder of this event matches this face.",
    "ambiguous_match": "Two ticket holders match almost equally: check by eye.",
    "already_checked_in": "This ticket has already been used to enter.",
    "other_event": "This ticket is for another event.",
    "gates_not_open": "Gates for this event are not open.",
    "unknown_ticket": "Unknown ticket code.",
    "ticket_revoked": "This ticket has been revoked.",
    "not_an_image": "The camera frame is not a readable image.",
    "truncated": "The camera frame is incomplete or corrupt.",
    "too_large": "The camera frame is larger than the upload limit.",
    "too_many_pixels": "The camera frame has too many pixels.",
}


# Outcomes where no face was judged: the frame held no usable face, or the ticket is not one
# of this event's. The gate page records them as denials; the API answers them as bad input.
INPUT_REASONS = frozenset(
    {
        "not_an_image",
        "truncated",
        "too_large",
        "too_many_pixels",
        "no_face",
        "multiple_faces",
        "unknown_ticket",
        "other_event",
    }
)


class GateUnavailable(RuntimeError):
    """No gate worker answered in time: the web layer answers 503."""


class UnusableInput(ValueError):
    """Raised by require_judged for an outcome whose reason is in INPUT_REASONS."""

    def __init__(self, outcome: GateOutcome):
        super().__init__(outcome.message or outcome.reason)
        self.outcome = outcome


@dataclass
class GateOutcome:
    decision: str  # admit | deny | review
    reason: str = ""
    holder: TicketHolder | None = None
    score: float | None = None
    model: EmbeddingModel | None = None
    details: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return REASONS.get(self.reason, "")


def deny(reason: str, **kwargs) -> GateOutcome:
    return GateOutcome("deny", reason, **kwargs)


def require_judged(outcome: GateOutcome) -> GateOutcome:
    """The outcome, unless the input could not be judged (then UnusableInput)."""
    if outcome.reason in INPUT_REASONS:
        raise UnusableInput(outcome)
    return outcome


def embed_frames_on_gate_queue(frames: list[bytes], model: EmbeddingModel) -> list[dict]:
    from recognition.tasks import gate_embed_frames

    payload = [base64.b64encode(frame).decode("ascii") for frame in frames]
    try:
        if not any("gate" in w.get("queues", []) for w in live_workers()):
            raise GateUnavailable("No face worker is running for the gates; start a gate worker.")
        async_result = gate_embed_frames.apply_async((payload, model.pk), queue="gate")
        try:
            return async_result.get(timeout=settings.FACEPASS_GATE_TIMEOUT_SECONDS)
        except CeleryTimeout:
            async_result.revoke()
            raise GateUnavailable("The face worker did not answer in time.") from None
    except QUEUE_ERRORS as exc:
        raise GateUnavailable(
            "The message queue to the face workers (Redis) is unavailable; retry shortly."
        ) from exc


def ticket_holder_for_gate(event: Event, ticket_code: str) -> TicketHolder | GateOutcome:
    holder = (
        TicketHolder.objects.select_related("event")
        .filter(ticket_code=ticket_code.strip())
        .filter(event__organization_id=event.organization_id)
    )
    own = holder.filter(event=event).first()
    if own is not None:
        return own
    if holder.exists():
        return deny("other_event")
    return deny("unknown_ticket")


def decide_one_to_one(holder: TicketHolder, frames: list[dict], model) -> GateOutcome:
    if holder.status == TicketHolder.Status.REVOKED:
        return deny("ticket_revoked", holder=holder)
    vectors = [np.asarray(f["embedding"], np.float32) for f in frames if f["embedding"]]
    if not vectors:
        return deny(frames[0]["code"] or "no_face", holder=holder, model=model)
    scores = [holder_similarity(holder_id=holder.pk, model=model, vector=v) for v in vectors]
    if scores[0] is None:
        return deny("not_enrolled", holder=holder, model=model)
    best = max(scores)
    threshold = model_threshold(model, holder.event.target_far)
    details = {"threshold": threshold, "frames": len(frames)}
    if best >= threshold:
        return GateOutcome("admit", "", holder, best, model, details)
    return deny("face_mismatch", holder=holder, score=best, model=model, details=details)


def decide_one_to_many(event: Event, frames: list[dict], model) -> GateOutcome:
    vectors = [np.asarray(f["embedding"], np.float32) for f in frames if f["embedding"]]
    if not vectors:
        return deny(frames[0]["code"] or "no_face", model=model)
    candidates = [nearest_holders(event=event, model=model, vector=v, limit=2) for v in vectors]
    candidates = [c for c in candidates if c]
    if not candidates:
        return deny("no_match", model=model)
    best = max(candidates, key=lambda c: c[0].similarity)
    threshold = model_threshold(model, event.target_far)
    top = best[0]
    runner_up = best[1].similarity if len(best) > 1 else -1.0
    holder = TicketHolder.objects.select_related("event").get(pk=top.holder_id)
    details = {"threshold": threshold, "second_best": runner_up, "frames": len(frames)}
    if top.similarity < threshold:
        return deny("no_match", score=top.similarity, model=model, details=details)
    if top.similarity - runner_up < settings.FACEPASS_GATE_1N_MARGIN:
        return GateOutcome("review", "ambiguous_match", holder, top.similarity, model, details)
    if holder.status == TicketHolder.Status.REVOKED:
        return deny("ticket_revoked", holder=holder, score=top.similarity, model=model)
    return GateOutcome("admit", "", holder, top.similarity, model, details)


def face_verify(*, event: Event, frames: list[bytes], ticket_code: str) -> GateOutcome:
    """1:1: is this the holder of `ticket_code` in `event`? Records nothing, whatever the
    event's status, so ticketing systems can check a face before the gates open."""
    holder = ticket_holder_for_gate(event, ticket_code)
    if isinstance(holder, GateOutcome):
        return holder
    model = active_model()
    return decide_one_to_one(holder, embed_frames_on_gate_queue(frames, model), model)


def face_identify(*, event: Event, frames: list[bytes]) -> GateOutcome:
    """1:N: which enrolled holder of `event` is this? Records nothing."""
    model = active_model()
    return decide_one_to_many(event, embed_frames_on_gate_queue(frames, model), model)


def gate_decide(*, gate: Gate, frames: list[bytes], ticket_code: str = "") -> GateOutcome:
    """Decide for one person at one gate (not yet recorded: see checkin_record)."""
    event = gate.event
    if event.status != Event.Status.GATES_OPEN:
        return deny("gates_not_open")
    if gate.mode == Gate.Mode.TICKET_AND_FACE:
        return face_verify(event=event, frames=frames, ticket_code=ticket_code)
    return face_identify(event=event, frames=frames)
