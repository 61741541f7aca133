"""Reads for check-ins: the log of an event, and which attempts stand as an entry."""

from __future__ import annotations

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from events.models import CheckIn, Event


def checkins_for_event(event: Event) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(event=event).select_related("gate", "attendee", "staff_user")


def _latest_override_decision():
    return (
        CheckIn.objects.filter(overrides=OuterRef("pk"))
        .order_by("-created_at", "-pk")
        .values("decision")[:1]
    )


def standing_entries(holder) -> QuerySet[CheckIn]:
    """The holder's attempts that stand as an entry: admitted by the gate or by a staff
    override, and not overridden to deny since (a deny override voids a wrong admit, so the
    real ticket holder can still come in)."""
    return (
        CheckIn.objects.filter(attendee=holder, overrides__isnull=True)
        .annotate(standing=Coalesce(Subquery(_latest_override_decision()), F("decision")))
        .filter(standing=CheckIn.Decision.ADMIT)
    )


def standing_decision(checkin: CheckIn) -> str:
    """The attempt's decision as it stands: its latest override's, else its own."""
    latest = checkin.overridden_by.order_by("-created_at", "-pk").first()
    return latest.decision if latest else checkin.decision
