"""Reads behind the REST API. Everything is scoped to the API key's organization."""

import hmac

from django.db.models import QuerySet

from api.models import ApiKey
from api.services import KEY_PREFIX, api_key_hash
from attendees.models import EnrollmentPhoto, TicketHolder
from common.tickets import ticket_code_normalise
from events.models import CheckIn, Event, Gate, Organization

_DUMMY_HASH = "0" * 64


def api_key_for_plaintext(plaintext: str) -> ApiKey | None:
    """The active key whose hash matches `plaintext`, else None (unknown, garbled or revoked)."""
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > 200:
        return None
    prefix, sep, _secret = plaintext[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 8:
        return None
    key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
    candidate = api_key_hash(plaintext)
    matches = hmac.compare_digest(key.hashed_secret if key else _DUMMY_HASH, candidate)
    if key is None or not matches or key.revoked_at is not None:
        return None
    return key


def events_for_organization(organization: Organization) -> QuerySet[Event]:
    return Event.objects.filter(organization=organization).prefetch_related("gates")


def ticket_holders_for_event(
    event: Event, *, status: str | None = None, search: str | None = None
) -> QuerySet[TicketHolder]:
    qs = TicketHolder.objects.filter(event=event).order_by("name", "pk")
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(ticket_code__icontains=ticket_code_normalise(search))
    return qs


def ticket_holders_for_organization(organization: Organization) -> QuerySet[TicketHolder]:
    return TicketHolder.objects.filter(event__organization=organization).select_related("event")


def holder_photos(holder: TicketHolder) -> QuerySet[EnrollmentPhoto]:
    return EnrollmentPhoto.objects.filter(holder=holder).order_by("-created_at", "-pk")


def photos_for_organization(organization: Organization) -> QuerySet[EnrollmentPhoto]:
    return EnrollmentPhoto.objects.filter(holder__event__organization=organization).select_related(
        "holder"
    )


def gates_for_organization(organization: Organization) -> QuerySet[Gate]:
    return Gate.objects.filter(event__organization=organization).select_related("event")


def checkins_for_organization(
    organization: Organization,
    *,
    event: int | None = None,
    gate: int | None = None,
    decision: str | None = None,
    since=None,
    until=None,
) -> QuerySet[CheckIn]:
    """Newest first. Filters are ids within the organization: another one's ids match nothing."""
    qs = CheckIn.objects.filter(event__organization=organization).select_related("attendee")
    filters = {
        "event_id": event,
        "gate_id": gate,
        "decision": decision,
        "created_at__gte": since,
        "created_at__lt": until,
    }
    qs = qs.filter(**{k: v for k, v in filters.items() if v is not None})
    return qs.order_by("-created_at", "-pk")
