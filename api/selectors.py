"""Reads behind the REST API. Everything is scoped to the API key's organization."""

import hmac

from django.db.models import QuerySet

from api.models import ApiKey
from api.services import KEY_PREFIX, api_key_hash
from attendees.models import TicketHolder
from events.models import Event, Organization

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
        qs = qs.filter(ticket_code__icontains=search)
    return qs
