"""Writes for organizations, events and gates."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from events.models import CheckIn, Event, Gate, Membership, Organization


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
                if single and holder.checkins.filter(decision=CheckIn.Decision.ADMIT).exists():
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
    except IntegrityError:
        if not idempotency_key:
            raise
        # A concurrent request with the same key won the race: answer with its result.
        return CheckIn.objects.get(event=event, idempotency_key=idempotency_key), False
    return checkin, True
