"""Ticket codes as people type, scan and import them: one normaliser and one lookup for every
channel (gate page, API check-in, verify and holder search, registration by code + e-mail, CSV
and bulk import).

A code is stored as the organizer gave it (surrounding spaces off) and compared without case:
"demo-ux-0001 " at a gate finds "DEMO-UX-0001".
"""

from __future__ import annotations

import unicodedata

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When


def ticket_code_normalise(code: str | None) -> str:
    """The code without surrounding white space (NBSP and the like too) and with compatibility
    characters folded (a full-width "Ａ" from a phone keyboard is "A")."""
    return unicodedata.normalize("NFKC", code or "").strip()


def ticket_code_key(code: str | None) -> str:
    """What two codes must share to be the same ticket (in-memory matching: imports)."""
    return ticket_code_normalise(code).casefold()


def ticket_code_q(code: str | None, field: str = "ticket_code") -> Q:
    """A filter for rows whose `field` is this code, whatever its case."""
    return Q(**{f"{field}__iexact": ticket_code_normalise(code)})


def with_ticket_code(
    queryset: QuerySet, code: str | None, *order: str, field: str = "ticket_code"
) -> QuerySet:
    """`queryset` narrowed to this code, ordered by `order` (default: pk) with an exact-case
    match first (should two codes of one event differ only in case, the one typed wins)."""
    normalised = ticket_code_normalise(code)
    exact = Case(
        When(**{field: normalised}, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    narrowed = queryset.filter(ticket_code_q(normalised, field)).alias(_exact=exact)
    return narrowed.order_by("_exact", *(order or ("pk",)))
