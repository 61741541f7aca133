"""Writes for organizations, events and gates."""

import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import IntegrityError, connections, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from events.models import CheckIn, CheckInFrame, Event, Gate, Membership, Organization
from webhooks.services import checkin_webhook_emit

logger = logging.getLogger(__name__)


def organization_create(*, name: str, slug: str) -> Organization:
    org = Organization(name=name, slug=slug)
    org.full_clean()
    org.save()
    return org


def membership_add(*, organization: Organization, user, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership


def staff_user_create(
    *, organization: Organization, username: str, password: str, role: str, email: str = ""
):
    """A user who can log into the admin (organizers) or the gate page (gate staff)."""
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.create_user(
            username=username,
            password=password,
            email=email,
            is_staff=role != Membership.Role.GATE_STAFF,
        )
        membership_add(organization=organization, user=user, role=role)
    return user


def event_create(*, organization: Organization, **fields) -> Event:
    event = Event(organization=organization, **fields)
    event.full_clean()
    event.save()
    return event


def instance_update(instance, fields: dict):
    """Set fields, validate the whole row, and write only those fields (plus updated_at)."""
    if not fields:
        return instance
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save(update_fields=[*fields, "updated_at"])
    return instance


def event_update(*, event: Event, **fields) -> Event:
    return instance_update(event, fields)


def event_set_status(*, event: Event, status: str) -> Event:
    if status not in Event.Status.values:
        raise ValueError(f"Unknown event status {status!r}.")
    event.status = status
    event.save(update_fields=["status", "updated_at"])
    return event


def gate_create(*, event: Event, name: str, mode: str = Gate.Mode.TICKET_AND_FACE) -> Gate:
    gate = Gate(event=event, name=name, mode=mode)
    gate.full_clean()
    gate.save()
    return gate


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


def rows_delete_returning(queryset, column: str) -> list:
    """DELETE the queryset's rows in one statement; returns `column` of each deleted row.

    RETURNING names exactly the rows removed (rows added meanwhile included) without loading
    them into Python, where an event may hold 100k photos. Django's cascades and signals are
    skipped: delete what references these rows in the same transaction (foreign keys are
    checked at commit).
    """
    model = queryset.model
    qn = connections[queryset.db].ops.quote_name
    pk_sql, params = queryset.order_by().values("pk").query.sql_with_params()
    sql = (
        f"DELETE FROM {qn(model._meta.db_table)} WHERE {qn(model._meta.pk.column)} "
        f"IN ({pk_sql}) RETURNING {qn(column)}"
    )
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def files_delete_on_commit(storage, names: list[str]) -> None:
    """Remove files once the rows naming them are gone for good: a rollback keeps both."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: _files_delete(storage, names))


def _files_delete(storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.exception("could not delete private file %s", name)


def checkin_frames_delete(queryset) -> int:
    """Delete dispute frames (rows now, files after commit); returns how many."""
    names = rows_delete_returning(queryset, "image")
    files_delete_on_commit(CheckInFrame._meta.get_field("image").storage, names)
    return len(names)


def checkin_record(*, gate: Gate, outcome, staff_user=None, idempotency_key: str | None = None):
    """Record one gate attempt. Returns (checkin, created).

    A repeated idempotency key returns the first check-in and records nothing. With
    single entry, the holder's row is locked so two gates admitting the same person
    at the same moment serialise: the second sees the first admit and is denied.
    """
    from attendees.models import TicketHolder

    event = gate.event
    if idempotency_key:
        existing = CheckIn.objects.filter(event=event, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    decision, reason, message = outcome.decision, outcome.reason, outcome.message
    try:
        with transaction.atomic():
            holder = outcome.holder
            if holder is not None and decision == CheckIn.Decision.ADMIT:
                TicketHolder.objects.select_for_update().filter(pk=holder.pk).first()
                single = event.entry_policy == Event.EntryPolicy.SINGLE_ENTRY
                if single and standing_entries(holder).exists():
                    decision, reason = CheckIn.Decision.DENY, "already_checked_in"
                    message = "This ticket has already been used to enter."
            checkin = CheckIn.objects.create(
                event=event,
                gate=gate,
                attendee=holder,
                decision=decision,
                mode=gate.mode,
                score=outcome.score,
                model_version=outcome.model.label if outcome.model else "",
                staff_user=staff_user,
                idempotency_key=idempotency_key or None,
                reason=reason,
                reason_message=message[:300],
            )
            # Same transaction: the event exists exactly when the check-in row does.
            checkin_webhook_emit(checkin=checkin)
    except IntegrityError:
        if not idempotency_key:
            raise
        # A concurrent request with the same key won the race: answer with its result.
        return CheckIn.objects.get(event=event, idempotency_key=idempotency_key), False
    return checkin, True


# --- Staff overrides -----------------------------------------------------------------------
# An override is its own CheckIn row pointing at the attempt it overrides (`overrides`); the
# attempt's row is never changed. The latest override of an attempt is its standing decision.

OVERRIDE_REASON = "staff_override"
OVERRIDE_REASON_MAX_CHARS = 300  # CheckIn.reason_message holds the staff's words


class OverrideRefused(Exception):
    """The rules do not allow this override; `code` is machine-readable, the message is plain."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _latest_override_decision():
    return (
        CheckIn.objects.filter(overrides=OuterRef("pk"))
        .order_by("-created_at", "-pk")
        .values("decision")[:1]
    )


def standing_entries(holder):
    """The holder's attempts that stand as an entry: admitted by the gate or by a staff
    override, and not overridden to deny since (a deny override voids a wrong admit, so the
    real ticket holder can still come in)."""
    return (
        CheckIn.objects.filter(attendee=holder, overrides__isnull=True)
        .annotate(standing=Coalesce(Subquery(_latest_override_decision()), F("decision")))
        .filter(standing=CheckIn.Decision.ADMIT)
    )


def _standing_decision(checkin: CheckIn) -> str:
    latest = checkin.overridden_by.order_by("-created_at", "-pk").first()
    return latest.decision if latest else checkin.decision


def _refuse_unless_admittable(checkin: CheckIn) -> None:
    """An override to admit lets a person in on staff's word, but never past the ticket:
    it needs a known, valid ticket, open gates and, under single entry, no standing entry."""
    holder, event = checkin.attendee, checkin.event
    if holder is None:
        raise OverrideRefused(
            "no_ticket_holder",
            "No ticket is attached to this check-in: check the person at a ticket + face gate.",
        )
    if holder.status == holder.Status.REVOKED:
        raise OverrideRefused("ticket_revoked", "This ticket has been revoked.")
    if event.status != Event.Status.GATES_OPEN:
        raise OverrideRefused("gates_not_open", "Gates for this event are not open.")
    if event.entry_policy == Event.EntryPolicy.SINGLE_ENTRY and standing_entries(holder).exists():
        raise OverrideRefused(
            "already_checked_in", "This ticket has already been used to enter (single entry)."
        )


def checkin_override(*, checkin: CheckIn, decision: str, reason: str, staff_user) -> CheckIn:
    """Record a staff override (admit or deny, with a mandatory reason) of a gate attempt.

    Raises ValueError for a bad decision or reason, OverrideRefused when the rules say no
    (see _refuse_unless_admittable; a deny is always allowed). Overriding the same attempt
    again (a change of mind) is allowed and audited; an override row itself is not a target.
    """
    reason = (reason or "").strip()
    if decision not in (CheckIn.Decision.ADMIT, CheckIn.Decision.DENY):
        raise ValueError(f"An override decides admit or deny, not {decision!r}.")
    if not reason or len(reason) > OVERRIDE_REASON_MAX_CHARS:
        raise ValueError(f"An override needs a reason of 1 to {OVERRIDE_REASON_MAX_CHARS} chars.")
    if checkin.overrides_id is not None:
        raise OverrideRefused("not_an_attempt", "Override the original check-in, not an override.")
    from attendees.models import TicketHolder

    with transaction.atomic():
        # Same lock as checkin_record, so an override and a gate admit of one ticket serialise;
        # the attempt's own lock serialises two overrides of it.
        TicketHolder.objects.select_for_update().filter(pk=checkin.attendee_id).first()
        checkin = (
            CheckIn.objects.select_for_update(of=("self",))
            .select_related("event", "attendee")
            .get(pk=checkin.pk)
        )
        if _standing_decision(checkin) == decision:
            raise OverrideRefused("unchanged", f"This check-in already stands as {decision}.")
        if decision == CheckIn.Decision.ADMIT:
            _refuse_unless_admittable(checkin)
        override = CheckIn.objects.create(
            event=checkin.event,
            gate=checkin.gate,
            attendee=checkin.attendee,
            decision=decision,
            mode=checkin.mode,
            staff_user=staff_user,
            reason=OVERRIDE_REASON,
            reason_message=reason,
            overrides=checkin,
        )
        # An override is a check-in row like any other (reason "staff_override").
        checkin_webhook_emit(checkin=override)
        audit_record(
            action=AuditEntry.Action.CHECKIN_OVERRIDE,
            actor=staff_user,
            organization=checkin.event.organization,
            target=checkin,
            details={"override_id": override.pk, "decision": decision, "reason": reason},
        )
    logger.info(
        "gate override: check-in %s -> %s (row %s) by %s at gate %s: %r",
        checkin.pk,
        decision,
        override.pk,
        staff_user,
        checkin.gate_id,
        reason,
    )
    return override
