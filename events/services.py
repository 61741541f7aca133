"""Writes for organizations, events and gates."""

from django.contrib.auth import get_user_model
from django.db import transaction

from common.db import instance_update
from common.reasons import Reason, ReasonError
from events.models import Event, Gate, Membership, Organization


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


def event_update(*, event: Event, **fields) -> Event:
    return instance_update(event, fields)


def event_set_status(*, event: Event, status: str) -> Event:
    """Move an event to a status; a closed event's gates are never opened again."""
    if status not in Event.Status.values:
        raise ValueError(f"Unknown event status {status!r}.")
    if status == Event.Status.GATES_OPEN and event.status == Event.Status.CLOSED:
        raise ReasonError(Reason.EVENT_CLOSED)
    event.status = status
    event.save(update_fields=["status", "updated_at"])
    return event


def gate_create(
    *, event: Event, name: str, mode: str = Gate.Mode.TICKET_AND_FACE, is_active: bool = True
) -> Gate:
    gate = Gate(event=event, name=name, mode=mode, is_active=is_active)
    gate.full_clean()
    gate.save()
    return gate
