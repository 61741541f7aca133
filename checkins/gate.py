"""One gate attempt decided, nothing written: the ticket looked up, the frames embedded on a gate
worker, candidates found in pgvector, each scored on its holder's template (the unit mean of the
holder's enrolled faces; the attempt's best frame: recognition.ml.runtime.fusion), then the
pure rules of checkins.decision at the active model's calibrated thresholds for the event's
security level and size."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from attendees.models import TicketHolder
from checkins import decision
from checkins.decision import Candidate, Thresholds, Verdict
from common.reasons import Reason, reason_info, reason_text
from common.tickets import with_ticket_code
from events.models import Event, Gate
from recognition.frames import (
    FrameResult,
    GateAnswer,
    LivenessOutcome,
    LivenessRequest,
    frames_embed_on_gate_queue,
)
from recognition.gallery import gallery_forget_holders
from recognition.ml.runtime import openset
from recognition.ml.runtime.fusion import best_frame_scores
from recognition.models import EmbeddingModel
from recognition.selectors import (
    active_model,
    enrolled_holder_count,
    gate_nearest_holders,
    holder_templates,
    model_calibration,
    model_threshold,
)

# Holders the search returns per frame: the decision re-scores them on their templates, so the
# right holder must only be among the nearest few by single photos.
SEARCH_LIMIT = 10


@dataclass
class GateOutcome:
    """A verdict with its rows: the holder it is about and the model that judged."""

    decision: str  # admit | deny | review
    reason: str = ""
    holder: TicketHolder | None = None
    score: float | None = None
    model: EmbeddingModel | None = None
    details: dict = field(default_factory=dict)
    liveness: LivenessOutcome | None = None  # the burst's verdict when the event checks it

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


def thresholds_for(
    model: EmbeddingModel, event: Event, *, photos: int, holders: int, frames: int
) -> Thresholds:
    """A holder's thresholds at the event's level for an attempt of `frames` frames (the best
    frame counts, so each frame is one more comparison): the 1:1 one at the level's FAR, and the
    1:N admit one for `holders` enrolled holders at the level read as an FPIR (open-set
    calibration, recognition.ml.runtime.openset). An uncalibrated model, or a gallery beyond
    what its calibration supports, gets no 1:N admit threshold: face-only gates then send to
    review."""
    margin = settings.FACEPASS_GATE_1N_MARGIN
    calibration = model_calibration(model)
    if calibration is None:
        return Thresholds(model_threshold(model, event.target_far), None, margin)
    level, frames = float(event.target_far), max(frames, 1)
    one = openset.threshold_for(calibration, frames, level, photos)
    many = openset.threshold_for(calibration, max(holders, 1) * frames, level, photos)
    return Thresholds(one.score, None if many.beyond_calibration else many.score, margin)


def ticket_holder_for_gate(event: Event, ticket_code: str) -> TicketHolder | GateOutcome:
    """The event's holder of this code (any case, spaces around ignored: common.tickets); else
    why not (another event's ticket, or unknown)."""
    holders = with_ticket_code(
        TicketHolder.objects.select_related("event").filter(
            event__organization_id=event.organization_id
        ),
        ticket_code,
    )
    own = holders.filter(event=event).first()
    if own is not None:
        return own
    if holders.exists():
        return outcome_of(decision.deny(Reason.OTHER_EVENT))
    return outcome_of(decision.deny(Reason.UNKNOWN_TICKET))


def _vectors(frames: list[FrameResult]) -> np.ndarray:
    vectors = [f.vector for f in frames if f.vector is not None]
    return np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)


def decide_one_to_one(holder: TicketHolder, frames: list[FrameResult], model) -> GateOutcome:
    revoked = holder.status == TicketHolder.Status.REVOKED
    vectors = _vectors(frames)
    if not revoked and not len(vectors):
        return outcome_of(decision.unusable_frames([f.code for f in frames]), holder=holder)
    found = holder_templates(holder_ids=[holder.pk], model=model).get(holder.pk)
    score = None
    if found is not None and len(vectors):
        score = float(best_frame_scores(vectors, found.vector[None])[0])
    limits = thresholds_for(
        model, holder.event, photos=found.photos if found else 1, holders=1, frames=len(vectors)
    )
    verdict = decision.one_to_one(
        holder_id=holder.pk, revoked=revoked, score=score, thresholds=limits, frames=len(frames)
    )
    return outcome_of(verdict, holder=holder, model=model)


@dataclass(frozen=True)
class Scored:
    """A holder found for an attempt: the best frame's score against their template."""

    holder_id: int
    score: float
    photos: int
    revoked: bool


def scored_candidates(event: Event, vectors: np.ndarray, model) -> list[Scored]:
    """The best two holders by template score, among those the search finds for any frame."""
    matches = gate_nearest_holders(
        event_id=event.pk, model=model, vectors=vectors, limit=SEARCH_LIMIT
    )
    found = {match.holder_id for frame in matches for match in frame}
    if not found:
        return []
    # PostgreSQL has the last word on who the candidates are: a holder deleted, or no longer
    # of this event, since the search's copy was taken decides nothing and leaves the copy.
    statuses = dict(
        TicketHolder.objects.filter(pk__in=found, event=event).values_list("pk", "status")
    )
    if len(statuses) < len(found):
        gone = found - statuses.keys()
        gallery_forget_holders(event_id=event.pk, model_id=model.pk, holder_ids=gone)
    fused = list(holder_templates(holder_ids=statuses, model=model).values())
    if not fused:
        return []
    scores = best_frame_scores(vectors, np.stack([t.vector for t in fused]))
    best = sorted(zip(scores, fused, strict=True), key=lambda pair: -pair[0])[:2]
    revoked = TicketHolder.Status.REVOKED
    return [
        Scored(t.holder_id, float(s), t.photos, statuses[t.holder_id] == revoked) for s, t in best
    ]


def one_to_many_verdict(
    event: Event, model, scored: list[Scored], *, frames: int, holders: int
) -> Verdict:
    """The 1:N rules at the event's level, for `frames` frames with a face and a gallery of
    `holders` enrolled holders."""
    candidates = [
        Candidate(
            c.holder_id,
            c.score,
            thresholds_for(model, event, photos=c.photos, holders=holders, frames=frames),
            c.revoked,
        )
        for c in scored
    ]
    return decision.one_to_many(candidates=candidates, frames=frames)


def decide_one_to_many(event: Event, frames: list[FrameResult], model) -> GateOutcome:
    vectors = _vectors(frames)
    if not len(vectors):
        return outcome_of(decision.unusable_frames([f.code for f in frames]), model=model)
    verdict = one_to_many_verdict(
        event,
        model,
        scored_candidates(event, vectors, model),
        frames=len(vectors),
        holders=enrolled_holder_count(event_id=event.pk, model=model),
    )
    return outcome_of(verdict, model=model)


def _not_live(answer: GateAnswer, holder, model) -> GateOutcome | None:
    """The liveness rule first: a burst that is not a live person decides the attempt."""
    found = answer.liveness
    if found is None:
        return None
    holder_id = holder.pk if holder is not None else None
    verdict = decision.liveness(live=found.live, code=found.code, holder_id=holder_id)
    if verdict is None:
        return None
    outcome = outcome_of(verdict, holder=holder if verdict.holder_id else None, model=model)
    outcome.liveness = found
    return outcome


def face_verify(
    *,
    event: Event,
    frames: list[bytes],
    ticket_code: str,
    liveness: LivenessRequest | None = None,
) -> GateOutcome:
    """1:1: is this the holder of `ticket_code` in `event`? Whatever the event's status."""
    holder = ticket_holder_for_gate(event, ticket_code)
    if isinstance(holder, GateOutcome):
        return holder
    model = active_model()
    answer = frames_embed_on_gate_queue(frames, model, liveness)
    outcome = _not_live(answer, holder, model) or decide_one_to_one(holder, answer.frames, model)
    outcome.liveness = answer.liveness
    return outcome


def face_identify(
    *, event: Event, frames: list[bytes], liveness: LivenessRequest | None = None
) -> GateOutcome:
    """1:N: which enrolled holder of `event` is this?"""
    model = active_model()
    answer = frames_embed_on_gate_queue(frames, model, liveness)
    outcome = _not_live(answer, None, model) or decide_one_to_many(event, answer.frames, model)
    outcome.liveness = answer.liveness
    return outcome


def liveness_request(event: Event, challenge: str | None) -> LivenessRequest | None:
    """What the event's liveness policy asks of a gate burst (None: no check)."""
    policy = event.liveness_policy
    if policy == Event.Liveness.OFF:
        return None
    return LivenessRequest(policy, challenge if policy == Event.Liveness.CHALLENGE else None)


def gate_decide(
    *, gate: Gate, frames: list[bytes], ticket_code: str = "", challenge: str | None = None
) -> GateOutcome:
    """Decide for one person at one gate (not recorded: see checkins.services). `challenge` is
    the head turn the person was asked for, at events whose liveness policy prompts."""
    event = gate.event
    closed = decision.gate_state(gates_open=event.status == Event.Status.GATES_OPEN)
    if closed is not None:
        return outcome_of(closed)
    liveness = liveness_request(event, challenge)
    if gate.mode == Gate.Mode.TICKET_AND_FACE:
        return face_verify(event=event, frames=frames, ticket_code=ticket_code, liveness=liveness)
    return face_identify(event=event, frames=frames, liveness=liveness)
