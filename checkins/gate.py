"""One gate attempt decided, nothing written: the ticket looked up, the frames embedded on a gate
worker, similarities read from pgvector, then the pure rules of checkins.decision at the active
model's measured thresholds for the event's security level."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from attendees.models import TicketHolder
from checkins import decision
from checkins.decision import Candidate, Thresholds, Verdict
from common.reasons import Reason, reason_info, reason_text
from events.models import Event, Gate
from recognition.frames import FrameResult, frames_embed_on_gate_queue
from recognition.models import EmbeddingModel
from recognition.selectors import active_model, holder_similarity, model_threshold, nearest_holders


@dataclass
class GateOutcome:
    """A verdict with its rows: the holder it is about and the model that judged."""

    decision: str  # admit | deny | review
    reason: str = ""
    holder: TicketHolder | None = None
    score: float | None = None
    model: EmbeddingModel | None = None
    details: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return reason_text(self.reason)

    @property
    def unusable(self) -> bool:
        """Nothing could be judged (no usable face, unknown ticket...): not a decision."""
        return bool(self.reason) and reason_info(self.reason).unusable


def outcome_of(verdict: Verdict, *, holder=None, model=None) -> GateOutcome:
    if holder is None and verdict.holder_id is not None:
        holder = TicketHolder.objects.select_related("event").get(pk=verdict.holder_id)
    return GateOutcome(
        verdict.decision, verdict.reason, holder, verdict.score, model, dict(verdict.details)
    )


def thresholds_for(model: EmbeddingModel, event: Event) -> Thresholds:
    return Thresholds(
        one_to_one=model_threshold(model, event.target_far),
        margin=settings.FACEPASS_GATE_1N_MARGIN,
    )


def ticket_holder_for_gate(event: Event, ticket_code: str) -> TicketHolder | GateOutcome:
    """The event's holder of this code; else why not (another event's ticket, or unknown)."""
    holders = (
        TicketHolder.objects.select_related("event")
        .filter(ticket_code=ticket_code.strip())
        .filter(event__organization_id=event.organization_id)
    )
    own = holders.filter(event=event).first()
    if own is not None:
        return own
    if holders.exists():
        return outcome_of(decision.deny(Reason.OTHER_EVENT))
    return outcome_of(decision.deny(Reason.UNKNOWN_TICKET))


def _vectors(frames: list[FrameResult]):
    return [f.vector for f in frames if f.vector is not None]


def decide_one_to_one(holder: TicketHolder, frames: list[FrameResult], model) -> GateOutcome:
    revoked = holder.status == TicketHolder.Status.REVOKED
    vectors = _vectors(frames)
    if not revoked and not vectors:
        return outcome_of(decision.unusable_frames([f.code for f in frames]), holder=holder)
    scores = [holder_similarity(holder_id=holder.pk, model=model, vector=v) for v in vectors]
    known = [s for s in scores if s is not None]  # None: the holder has no enrolled face
    score = max(known) if known else None
    verdict = decision.one_to_one(
        holder_id=holder.pk,
        revoked=revoked,
        score=score,
        thresholds=thresholds_for(model, holder.event),
        frames=len(frames),
    )
    return outcome_of(verdict, holder=holder, model=model)


def _candidates(event: Event, vectors, model) -> list[Candidate]:
    """The best two holders for the probe frame that matched best."""
    per_frame = [nearest_holders(event=event, model=model, vector=v, limit=2) for v in vectors]
    per_frame = [matches for matches in per_frame if matches]
    if not per_frame:
        return []
    best = max(per_frame, key=lambda matches: matches[0].similarity)
    revoked = set(
        TicketHolder.objects.filter(
            pk__in=[m.holder_id for m in best], status=TicketHolder.Status.REVOKED
        ).values_list("pk", flat=True)
    )
    return [Candidate(m.holder_id, m.similarity, m.holder_id in revoked) for m in best]


def decide_one_to_many(event: Event, frames: list[FrameResult], model) -> GateOutcome:
    vectors = _vectors(frames)
    if not vectors:
        return outcome_of(decision.unusable_frames([f.code for f in frames]), model=model)
    verdict = decision.one_to_many(
        candidates=_candidates(event, vectors, model),
        thresholds=thresholds_for(model, event),
        frames=len(frames),
    )
    return outcome_of(verdict, model=model)


def face_verify(*, event: Event, frames: list[bytes], ticket_code: str) -> GateOutcome:
    """1:1: is this the holder of `ticket_code` in `event`? Whatever the event's status."""
    holder = ticket_holder_for_gate(event, ticket_code)
    if isinstance(holder, GateOutcome):
        return holder
    model = active_model()
    return decide_one_to_one(holder, frames_embed_on_gate_queue(frames, model), model)


def face_identify(*, event: Event, frames: list[bytes]) -> GateOutcome:
    """1:N: which enrolled holder of `event` is this?"""
    model = active_model()
    return decide_one_to_many(event, frames_embed_on_gate_queue(frames, model), model)


def gate_decide(*, gate: Gate, frames: list[bytes], ticket_code: str = "") -> GateOutcome:
    """Decide for one person at one gate (not recorded: see checkins.services)."""
    event = gate.event
    closed = decision.gate_state(gates_open=event.status == Event.Status.GATES_OPEN)
    if closed is not None:
        return outcome_of(closed)
    if gate.mode == Gate.Mode.TICKET_AND_FACE:
        return face_verify(event=event, frames=frames, ticket_code=ticket_code)
    return face_identify(event=event, frames=frames)
