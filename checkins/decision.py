"""The gate's decision rules, pure: scores, thresholds and holder state in, a typed outcome out.

No ORM, no Celery, no settings: checkins.gate gathers the inputs (face work on a gate worker,
similarities from pgvector, thresholds from the active model's artifact) and checkins.services
records the outcome. Every channel (gate page, API check-in, verify, identify) decides here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from common.reasons import Reason


class Decision(StrEnum):
    ADMIT = "admit"
    DENY = "deny"
    REVIEW = "review"


@dataclass(frozen=True)
class Verdict:
    """What the rules decided. holder_id names the holder the decision is about, if any."""

    decision: Decision
    reason: str = ""  # a common.reasons code; empty for a plain admit
    holder_id: int | None = None
    score: float | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    """Cosine-similarity thresholds at the event's security level (data from the model)."""

    one_to_one: float  # per-comparison threshold at the level's false-accept rate
    margin: float  # 1:N: the best holder must beat the runner-up by this much


@dataclass(frozen=True)
class Candidate:
    """One holder found by a 1:N search, with the probe's best similarity to their faces."""

    holder_id: int
    score: float
    revoked: bool = False


def deny(reason: str, **kwargs) -> Verdict:
    return Verdict(Decision.DENY, reason, **kwargs)


def unusable_frames(codes: list[str]) -> Verdict:
    """No frame held one usable face: the first frame's reason (no_face, multiple_faces...)."""
    return deny(next((code for code in codes if code), Reason.NO_FACE))


def gate_state(*, gates_open: bool) -> Verdict | None:
    """Gates closed: denied before any face work."""
    return None if gates_open else deny(Reason.GATES_NOT_OPEN)


def one_to_one(
    *, holder_id: int, revoked: bool, score: float | None, thresholds: Thresholds, frames: int
) -> Verdict:
    """Ticket + face: is the best similarity to this holder's enrolled faces high enough?
    score is None when the holder has no enrolled face."""
    if revoked:
        return deny(Reason.TICKET_REVOKED, holder_id=holder_id)
    if score is None:
        return deny(Reason.NOT_ENROLLED, holder_id=holder_id)
    details = {"threshold": thresholds.one_to_one, "frames": frames}
    if score >= thresholds.one_to_one:
        return Verdict(Decision.ADMIT, "", holder_id, score, details)
    return deny(Reason.FACE_MISMATCH, holder_id=holder_id, score=score, details=details)


def one_to_many(*, candidates: list[Candidate], thresholds: Thresholds, frames: int) -> Verdict:
    """Face only: which holder, if any? candidates are the best two holders, best first."""
    if not candidates:
        return deny(Reason.NO_MATCH)
    top = candidates[0]
    runner_up = candidates[1].score if len(candidates) > 1 else -1.0
    details = {"threshold": thresholds.one_to_one, "second_best": runner_up, "frames": frames}
    if top.score < thresholds.one_to_one:
        return deny(Reason.NO_MATCH, score=top.score, details=details)
    if top.score - runner_up < thresholds.margin:
        return Verdict(Decision.REVIEW, Reason.AMBIGUOUS_MATCH, top.holder_id, top.score, details)
    if top.revoked:
        return deny(Reason.TICKET_REVOKED, holder_id=top.holder_id, score=top.score)
    return Verdict(Decision.ADMIT, "", top.holder_id, top.score, details)


def entry(verdict: Verdict, *, single_entry: bool, already_entered: bool) -> Verdict:
    """Single entry: an admit of a holder who already stands as entered becomes a deny."""
    if verdict.decision == Decision.ADMIT and single_entry and already_entered:
        return deny(
            Reason.ALREADY_CHECKED_IN,
            holder_id=verdict.holder_id,
            score=verdict.score,
            details=verdict.details,
        )
    return verdict
