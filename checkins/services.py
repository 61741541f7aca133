"""Check-ins: one service that every channel calls (gate page, API check-in, verify, identify),
the recording of an attempt, kept frames and staff overrides.

The channels differ only in how they read input and render output: every rule (gate switched off,
ticket required, idempotency, the decision itself, single entry, what automatic capture records)
is applied here, in this order, once.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core import signing
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from attendees.models import TicketHolder
from audit.models import AuditEntry
from audit.services import audit_record
from checkins import decision as rules
from checkins.gate import GateOutcome, face_identify, face_verify, gate_decide
from checkins.selectors import (
    admit_override_refusal,
    face_only_capacity,
    standing_decision,
    standing_entries,
)
from common.db import files_delete_on_commit, rows_delete_returning
from common.reasons import Reason, ReasonError, reason_text
from common.tickets import ticket_code_normalise
from events.models import CheckIn, CheckInFrame, Event, Gate
from events.services import event_set_status, gate_create
from recognition.ml.runtime.liveness import random_challenge
from recognition.models import EmbeddingModel
from webhooks.services import checkin_webhook_emit

logger = logging.getLogger(__name__)

# Automatic capture: frames without one clear face are nobody's attempt: answered, not recorded
# (else the log would fill with a "no face" row every 1.5 s).
QUIET_REASONS = frozenset({Reason.NO_FACE, Reason.MULTIPLE_FACES, Reason.TOO_FEW_FRAMES})
# Frames of one attempt: a liveness burst (6 frames over ~1.5 s); plain checks send fewer.
MAX_FRAMES = 6
# A head-turn prompt is good for one attempt at one gate, within this many seconds.
CHALLENGE_SECONDS = 60
CHALLENGE_SALT = "facepass.checkins.liveness-challenge"
OVERRIDE_REASON_MAX_CHARS = 300  # CheckIn.reason_message holds the staff's words


class UnusableInput(ReasonError):
    """The input could not be judged (no face, unknown ticket, unreadable frame): no decision,
    nothing recorded."""

    def __init__(self, outcome: GateOutcome):
        super().__init__(outcome.reason)
        self.outcome = outcome


@dataclass
class CheckInRequest:
    """One person in front of a camera, as a channel read it."""

    event: Event
    mode: str  # Gate.Mode
    frames: list[bytes]
    ticket_code: str = ""
    gate: Gate | None = None  # None: verify / identify, decided like a gate, never recorded
    staff_user: Any = None
    idempotency_key: str | None = None
    challenge_token: str = ""  # the head-turn prompt shown (liveness_challenge_issue)
    auto: bool = False  # the gate page's automatic capture
    previous_attempt_id: int | None = None  # automatic capture: the result on screen

    def __post_init__(self) -> None:
        # Typed, scanned or sent: one form of the code for every channel (common.tickets).
        self.ticket_code = ticket_code_normalise(self.ticket_code)

    @classmethod
    def at_gate(cls, gate: Gate, frames: list[bytes], **fields) -> CheckInRequest:
        return cls(event=gate.event, mode=gate.mode, frames=frames, gate=gate, **fields)


@dataclass
class CheckInResult:
    outcome: GateOutcome | None = None
    checkin: CheckIn | None = None  # the recorded row; None when nothing was recorded
    created: bool = False  # False with a checkin: an idempotent replay
    quiet: str = ""  # automatic capture: why nothing was recorded
    details: dict = field(default_factory=dict)


def checkin_perform(request: CheckInRequest) -> CheckInResult:
    """Decide for one person and, at a gate, record the attempt.

    Raises ReasonError for a refused request (gate switched off, no ticket code), UnusableInput
    when the frames or the ticket could not be judged, and recognition.frames.GateUnavailable or
    recognition.selectors.NoActiveModel when no face work is possible (503).
    """
    if request.gate is None:
        return CheckInResult(_judged(_decide_without_gate(request)))
    gate = request.gate
    if not gate.is_active:
        raise ReasonError(Reason.GATE_INACTIVE)
    replay = _replay(gate, request.idempotency_key)
    if replay is not None:
        return CheckInResult(checkin=replay, created=False)
    if gate.mode == Gate.Mode.TICKET_AND_FACE and not request.ticket_code:
        if request.auto:
            return CheckInResult(quiet=Reason.NO_TICKET)
        raise ReasonError(Reason.NO_TICKET)
    outcome = gate_decide(
        gate=gate,
        frames=request.frames,
        ticket_code=request.ticket_code,
        challenge=_challenge_of(gate, request.challenge_token),
    )
    quiet = _quiet_reason(request, outcome)
    if quiet:
        return CheckInResult(outcome, quiet=quiet)
    if outcome.unusable:  # every channel alike: "try again", nothing recorded
        raise UnusableInput(outcome)
    checkin, created = checkin_record(
        gate=gate,
        outcome=outcome,
        staff_user=request.staff_user,
        idempotency_key=request.idempotency_key,
    )
    if created:  # a replayed key's frames are not this check-in's
        checkin_frames_keep(checkin=checkin, frames=request.frames)
    return CheckInResult(outcome, checkin, created)


@dataclass(frozen=True)
class Challenge:
    """A head-turn prompt for one attempt: the direction to show and its one-time token."""

    direction: str  # "left" / "right": the person's own
    token: str
    expires_in: int = CHALLENGE_SECONDS


def liveness_challenge_issue(*, gate: Gate) -> Challenge:
    """A random head-turn direction, drawn here (never by the client), signed for this gate."""
    direction = random_challenge()
    payload = {"g": gate.pk, "d": direction, "n": secrets.token_urlsafe(12)}
    return Challenge(direction, signing.dumps(payload, salt=CHALLENGE_SALT))


def liveness_challenge_redeem(*, gate: Gate, token: str) -> str:
    """The prompted direction of a token issued for this gate, once, within CHALLENGE_SECONDS;
    ReasonError otherwise (a replayed video must not get a second try at the same prompt)."""
    try:
        payload = signing.loads(token, salt=CHALLENGE_SALT, max_age=CHALLENGE_SECONDS)
    except signing.BadSignature:  # expired tokens too
        raise ReasonError(Reason.CHALLENGE_INVALID) from None
    first_use = cache.add(f"liveness-challenge:{payload['n']}", 1, 2 * CHALLENGE_SECONDS)
    if payload.get("g") != gate.pk or not first_use:
        raise ReasonError(Reason.CHALLENGE_INVALID)
    return payload["d"]


def challenge_prompt(direction: str) -> str:
    """The words a gate shows for a head-turn prompt (the person's own left or right)."""
    if direction == "left":
        return str(_("Slowly turn your head to your left"))
    return str(_("Slowly turn your head to your right"))


def _challenge_of(gate: Gate, token: str) -> str | None:
    if gate.event.liveness_policy != Event.Liveness.CHALLENGE:
        return None
    if not token:
        raise ReasonError(Reason.CHALLENGE_REQUIRED)
    return liveness_challenge_redeem(gate=gate, token=token)


def _decide_without_gate(request: CheckInRequest) -> GateOutcome:
    if request.mode == Gate.Mode.TICKET_AND_FACE:
        return face_verify(
            event=request.event, frames=request.frames, ticket_code=request.ticket_code
        )
    return face_identify(event=request.event, frames=request.frames)


def _judged(outcome: GateOutcome) -> GateOutcome:
    if outcome.unusable:
        raise UnusableInput(outcome)
    return outcome


def _replay(gate: Gate, idempotency_key: str | None) -> CheckIn | None:
    """A repeated key answers with the first check-in before any face work, so a client
    retrying after a lost response gets it back even if the gate worker has gone."""
    if not idempotency_key:
        return None
    return CheckIn.objects.filter(event_id=gate.event_id, idempotency_key=idempotency_key).first()


def _quiet_reason(request: CheckInRequest, outcome: GateOutcome) -> str:
    """Automatic capture answers without recording: nobody clearly in view, or still the
    person of the result on screen."""
    if not request.auto:
        return ""
    if outcome.reason in QUIET_REASONS:
        return outcome.reason
    if _repeats_previous(request, outcome):
        return Reason.SAME_PERSON
    return ""


def _repeats_previous(request: CheckInRequest, outcome: GateOutcome) -> bool:
    """Is this the person of the previous result, still in front of the camera?

    Recording them again would flash an "already checked in" DENY at someone just admitted
    (or repeat a deny every 1.5 s); a different holder (the next in the queue) is a new
    attempt and is recorded.
    """
    if request.previous_attempt_id is None:
        return False
    previous = CheckIn.objects.filter(event=request.event, pk=request.previous_attempt_id).first()
    if previous is None:
        return False
    holder_id = outcome.holder.pk if outcome.holder else None
    if holder_id is None:
        return previous.attendee_id is None and outcome.reason == previous.reason
    # A bad first frame must not lock the right person out: their admit after a gate deny is
    # new, unless that deny was "already checked in" or staff have overridden it since.
    settled = previous.reason in ("", Reason.ALREADY_CHECKED_IN) or previous.overridden_by.exists()
    improved = outcome.decision == CheckIn.Decision.ADMIT and not settled
    return holder_id == previous.attendee_id and not improved


def checkin_record(
    *, gate: Gate, outcome: GateOutcome, staff_user=None, idempotency_key: str | None = None
) -> tuple[CheckIn, bool]:
    """Record one gate attempt. Returns (checkin, created).

    A repeated idempotency key returns the first check-in and records nothing. With
    single entry, the holder's row is locked so two gates admitting the same person
    at the same moment serialise: the second sees the first admit and is denied.
    """
    event = gate.event
    existing = _replay(gate, idempotency_key)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            verdict = _with_entry_rule(event, outcome)
            checkin = CheckIn.objects.create(
                event=event,
                gate=gate,
                attendee=outcome.holder,
                decision=verdict.decision,
                mode=gate.mode,
                score=outcome.score,
                model_version=outcome.model.label if outcome.model else "",
                staff_user=staff_user,
                idempotency_key=idempotency_key or None,
                reason=verdict.reason,
                reason_message=reason_text(verdict.reason)[:300],
                liveness=outcome.liveness.as_json() if outcome.liveness else None,
            )
            # Same transaction: the event exists exactly when the check-in row does.
            checkin_webhook_emit(checkin=checkin)
    except IntegrityError:
        if not idempotency_key:
            raise
        # A concurrent request with the same key won the race: answer with its result.
        return CheckIn.objects.get(event=event, idempotency_key=idempotency_key), False
    return checkin, True


def _with_entry_rule(event: Event, outcome: GateOutcome) -> rules.Verdict:
    verdict = rules.Verdict(rules.Decision(outcome.decision), outcome.reason)
    holder = outcome.holder
    if holder is None or outcome.decision != CheckIn.Decision.ADMIT:
        return verdict
    TicketHolder.objects.select_for_update().filter(pk=holder.pk).first()
    return rules.entry(
        verdict,
        single_entry=event.entry_policy == Event.EntryPolicy.SINGLE_ENTRY,
        already_entered=standing_entries(holder).exists(),
    )


def checkin_frames_keep(*, checkin: CheckIn, frames: list[bytes]) -> list[CheckInFrame]:
    """Keep the frames of a recorded check-in for disputes, when (and only when) its event says
    so; they expire after the event's dispute_frame_retention_hours and the purge deletes them.
    """
    hours = checkin.event.dispute_frame_retention_hours
    if not hours or not frames:
        return []
    expires_at = timezone.now() + timedelta(hours=hours)
    kept = []
    for data in frames:
        frame = CheckInFrame(checkin=checkin, expires_at=expires_at)
        frame.image.save("frame.jpg", ContentFile(data), save=False)
        try:
            frame.save()
        except BaseException:
            frame.image.storage.delete(frame.image.name)  # no row, no file
            raise
        kept.append(frame)
    return kept


def checkin_frames_delete(queryset) -> int:
    """Delete dispute frames (rows now, files after commit); returns how many."""
    names = rows_delete_returning(queryset, "image")
    files_delete_on_commit(CheckInFrame._meta.get_field("image").storage, names)
    return len(names)


def face_only_opening_check(event: Event, *, confirmed: bool) -> None:
    """Face-only gates past what the active model supports at this event's size and level
    (under half the holders admitted without review, or no calibration) open only on explicit
    confirmation: at that size ticket + face is the mode. ReasonError otherwise. Without any
    active model there is nothing to weigh (every gate answers "unavailable" until one is)."""
    if confirmed or not event.gates.filter(mode=Gate.Mode.FACE_ONLY, is_active=True).exists():
        return
    _face_only_capacity_check(event)


def _face_only_capacity_check(event: Event) -> None:
    if not EmbeddingModel.objects.filter(is_active=True).exists():
        return
    capacity = face_only_capacity(event)
    if capacity is None or not capacity.face_only_sensible:
        holders = capacity.holders if capacity else 0
        tpir = f"{capacity.expected_tpir:.0%}" if capacity else "none"
        raise ReasonError(Reason.FACE_ONLY_CAPACITY, holders=holders, tpir=tpir)


def event_gates_open(*, event: Event, confirm_face_only: bool = False) -> Event:
    """Open the event's gates (see face_only_opening_check)."""
    face_only_opening_check(event, confirmed=confirm_face_only)
    return event_set_status(event=event, status=Event.Status.GATES_OPEN)


def gate_switch_on_check(event: Event, mode: str, *, confirmed: bool) -> None:
    """A face-only gate switched on while the event's gates are open is an opening of a
    face-only gate: the same confirmation as event_gates_open (before that, opening the
    gates asks)."""
    opening = mode == Gate.Mode.FACE_ONLY and event.status == Event.Status.GATES_OPEN
    if opening and not confirmed:
        _face_only_capacity_check(event)


def gate_add(
    *,
    event: Event,
    name: str,
    mode: str = Gate.Mode.TICKET_AND_FACE,
    is_active: bool = True,
    confirm_face_only: bool = False,
) -> Gate:
    """A new gate of the event (see gate_switch_on_check for an active face-only one)."""
    if is_active:
        gate_switch_on_check(event, mode, confirmed=confirm_face_only)
    return gate_create(event=event, name=name, mode=mode, is_active=is_active)


def gate_set_active(*, gate: Gate, is_active: bool, confirm_face_only: bool = False) -> Gate:
    """Switch a gate on or off; an inactive gate answers gate_inactive and records nothing."""
    if is_active and not gate.is_active:
        gate_switch_on_check(gate.event, gate.mode, confirmed=confirm_face_only)
    gate.is_active = is_active
    gate.save(update_fields=["is_active"])
    return gate


# --- Staff overrides -----------------------------------------------------------------------
# An override is its own CheckIn row pointing at the attempt it overrides (`overrides`); the
# attempt's row is never changed. The latest override of an attempt is its standing decision.


class OverrideRefused(ReasonError):
    """The rules do not allow this override; `code` is machine-readable, the message is plain."""


def _refuse_unless_admittable(checkin: CheckIn) -> None:
    refusal = admit_override_refusal(checkin)
    if refusal is not None:
        raise OverrideRefused(refusal)


def _override_check(checkin: CheckIn, decision_value: str, reason: str) -> str:
    reason = (reason or "").strip()
    if decision_value not in (CheckIn.Decision.ADMIT, CheckIn.Decision.DENY):
        raise ValueError(f"An override decides admit or deny, not {decision_value!r}.")
    if not reason or len(reason) > OVERRIDE_REASON_MAX_CHARS:
        raise ValueError(f"An override needs a reason of 1 to {OVERRIDE_REASON_MAX_CHARS} chars.")
    if checkin.overrides_id is not None:
        raise OverrideRefused(Reason.NOT_AN_ATTEMPT)
    return reason


def checkin_override(
    *, checkin: CheckIn, decision: str, reason: str, staff_user, actor=None
) -> CheckIn:
    """Record a staff override (admit or deny, with a mandatory reason) of a gate attempt.
    `staff_user` is the gate page's user (None through the API); `actor` who is audited
    (the API's key principal; defaults to staff_user).

    Raises ValueError for a bad decision or reason, OverrideRefused when the rules say no
    (checkins.selectors.admit_override_refusal; a deny is always allowed). Overriding the same
    attempt again (a change of mind) is allowed and audited; an override row is not a target.
    """
    reason = _override_check(checkin, decision, reason)
    with transaction.atomic():
        # Same lock as checkin_record, so an override and a gate admit of one ticket serialise;
        # the attempt's own lock serialises two overrides of it.
        if checkin.attendee_id is not None:
            TicketHolder.objects.select_for_update().filter(pk=checkin.attendee_id).first()
        checkin = (
            CheckIn.objects.select_for_update(of=("self",))
            .select_related("event", "attendee")
            .get(pk=checkin.pk)
        )
        if standing_decision(checkin) == decision:
            raise OverrideRefused(Reason.UNCHANGED, decision=decision)
        if decision == CheckIn.Decision.ADMIT:
            _refuse_unless_admittable(checkin)
        override = _override_create(checkin, decision, reason, staff_user, actor or staff_user)
    logger.info(
        "gate override: check-in %s -> %s (row %s) by %s at gate %s: %r",
        checkin.pk,
        decision,
        override.pk,
        actor or staff_user,
        checkin.gate_id,
        reason,
    )
    return override


def _override_create(checkin: CheckIn, decision: str, reason: str, staff_user, actor) -> CheckIn:
    override = CheckIn.objects.create(
        event=checkin.event,
        gate=checkin.gate,
        attendee=checkin.attendee,
        decision=decision,
        mode=checkin.mode,
        staff_user=staff_user,
        reason=Reason.STAFF_OVERRIDE,
        reason_message=reason,
        overrides=checkin,
    )
    # An override is a check-in row like any other (reason "staff_override").
    checkin_webhook_emit(checkin=override)
    audit_record(
        action=AuditEntry.Action.CHECKIN_OVERRIDE,
        actor=actor,
        organization=checkin.event.organization,
        target=checkin,
        details={"override_id": override.pk, "decision": decision, "reason": reason},
    )
    return override
