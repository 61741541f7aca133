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
    """One holder's thresholds at the event's security level, on the fused score (the attempt's
    frames against the holder's template). Data from the model's calibration, never constants."""

    one_to_one: float  # at the level's false-accept rate: the 1:1 admit, the 1:N review floor
    # 1:N admit at the event's number of holders (the level read as an FPIR); None when the
    # model has no open-set calibration: face-only gates then never admit, they send to review.
    one_to_many: float | None
    margin: float  # 1:N: the best holder must beat the runner-up by this much to be admitted


@dataclass(frozen=True)
class Candidate:
    """One holder found by a 1:N search: the attempt's fused score against their template."""

    holder_id: int
    score: float
    thresholds: Thresholds
    revoked: bool = False


def deny(reason: str, **kwargs) -> Verdict:
    return Verdict(Decision.DENY, reason, **kwargs)


def unusable_frames(codes: list[str]) -> Verdict:
    """No frame held one usable face: the first frame's reason (no_face, multiple_faces...)."""
    return deny(next((code for code in codes if code), Reason.NO_FACE))


def gate_state(*, gates_open: bool) -> Verdict | None:
    """Gates closed: denied before any face work."""
    return None if gates_open else deny(Reason.GATES_NOT_OPEN)


def liveness(*, live: bool, code: str, holder_id: int | None = None) -> Verdict | None:
    """A burst that is not a live person (a photo, a screen, a head that did not turn as asked)
    is denied whatever the face, and recorded; a burst that showed the face in too few frames
    could not be judged (try again). None: live, decide on the face."""
    if live:
        return None
    if code == Reason.TOO_FEW_FRAMES:
        return deny(Reason.TOO_FEW_FRAMES)
    if code == Reason.CHALLENGE_NOT_MET:
        return deny(Reason.CHALLENGE_NOT_MET, holder_id=holder_id)
    return deny(Reason.NOT_LIVE, holder_id=holder_id)


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


def one_to_many(*, candidates: list[Candidate], frames: int) -> Verdict:
    """Face only: which holder, if any? candidates are the best holders, best first.

    ADMIT needs the open-set threshold for the event's size and a clear lead over the runner-up;
    between the 1:1 threshold and that lies REVIEW (staff compare the face with the holder's
    enrollment photo); below the 1:1 threshold, DENY. A stranger then passes as someone with
    probability at most the level's FPIR, however many holders the event has.
    """
    if not candidates:
        return deny(Reason.NO_MATCH)
    top = candidates[0]
    limits = top.thresholds
    runner_up = candidates[1].score if len(candidates) > 1 else -1.0
    details = {
        "threshold": limits.one_to_many,
        "review_threshold": limits.one_to_one,
        "second_best": runner_up,
        "frames": frames,
    }
    if top.score < limits.one_to_one:
        return deny(Reason.NO_MATCH, score=top.score, details=details)
    admissible = limits.one_to_many is not None and top.score >= limits.one_to_many
    if admissible and top.score - runner_up < limits.margin:
        return Verdict(Decision.REVIEW, Reason.AMBIGUOUS_MATCH, top.holder_id, top.score, details)
    if top.revoked:
        return deny(Reason.TICKET_REVOKED, holder_id=top.holder_id, score=top.score)
    if admissible:
        return Verdict(Decision.ADMIT, "", top.holder_id, top.score, details)
    return Verdict(Decision.REVIEW, Reason.NEEDS_REVIEW, top.holder_id, top.score, details)


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
