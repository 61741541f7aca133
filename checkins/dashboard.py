"""Reads for the organizer's overview: an event's holders, photos and gate traffic in counts,
and the key counts of every event a user sees (admin home)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncHour

from attendees.models import EnrollmentPhoto, TicketHolder
from common.reasons import Reason, reason_text
from events.models import CheckIn, Event

CHECKING = (EnrollmentPhoto.Status.PENDING, EnrollmentPhoto.Status.PROCESSING)


@dataclass(frozen=True)
class EventDashboard:
    holders: int
    by_status: dict[str, int]  # TicketHolder.Status value -> holders
    consented: int
    needs_review: int
    photos_checking: int
    rejected_by_reason: list[tuple[str, int]]  # (reason code, photos), most first
    checked_in: int  # holders admitted at least once (by the gate or a staff override)
    admits_by_gate: list[tuple[int, str, int]]  # (gate id, gate name, admits)
    admits_by_hour: list[tuple[datetime, int]]  # (hour start in tz, admits), in time order
    denials_by_reason: list[tuple[str, int]]  # (reason code, denials), most first
    reviews: int
    gates: list = field(default_factory=list)

    @property
    def enrolled(self) -> int:
        return self.by_status.get(TicketHolder.Status.ENROLLED, 0)

    @property
    def busiest_hour(self) -> int:
        return max((n for _, n in self.admits_by_hour), default=0)


def _holder_counts(event: Event) -> dict:
    holders = TicketHolder.objects.filter(event=event)
    by_status = dict(holders.values_list("status").annotate(n=Count("pk")).order_by())
    totals = holders.aggregate(
        consented=Count("pk", filter=Q(consent_at__isnull=False)),
        needs_review=Count("pk", filter=Q(needs_review=True)),
    )
    return {"holders": sum(by_status.values()), "by_status": by_status, **totals}


def _counts_by(rows: QuerySet, field: str) -> QuerySet:
    """(value of `field`, rows) pairs, most first."""
    return rows.values_list(field).annotate(n=Count("pk")).order_by("-n", field)


def _photo_counts(event: Event) -> dict:
    photos = EnrollmentPhoto.objects.filter(holder__event=event)
    rejected = _counts_by(photos.filter(status=EnrollmentPhoto.Status.REJECTED), "rejection_code")
    return {
        "photos_checking": photos.filter(status__in=CHECKING).count(),
        "rejected_by_reason": list(rejected),
    }


def _checkin_counts(event: Event, tz: tzinfo) -> dict:
    checkins = CheckIn.objects.filter(event=event)
    admits = checkins.filter(decision=CheckIn.Decision.ADMIT)
    by_gate = (
        admits.values_list("gate_id", "gate__name").annotate(n=Count("pk")).order_by("gate__name")
    )
    by_hour = (
        admits.annotate(hour=TruncHour("created_at", tzinfo=tz))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by("hour")
    )
    denials = _counts_by(checkins.filter(decision=CheckIn.Decision.DENY), "reason")
    return {
        "checked_in": admits.exclude(attendee=None).values("attendee").distinct().count(),
        "admits_by_gate": list(by_gate),
        "admits_by_hour": list(by_hour),
        "denials_by_reason": list(denials),
        "reviews": checkins.filter(decision=CheckIn.Decision.REVIEW).count(),
    }


def event_dashboard(event: Event, tz: tzinfo | None = None) -> EventDashboard:
    """Counts for one event's overview; hours in `tz` (default: the event's time zone)."""
    tz = tz or event.tzinfo
    return EventDashboard(
        **_holder_counts(event),
        **_photo_counts(event),
        **_checkin_counts(event, tz),
        gates=list(event.gates.order_by("name")),
    )


def _count_per_event(qs, counted: str = "pk", distinct: bool = False):
    """A correlated count per event: separate subqueries, no join of holders with check-ins."""
    rows = qs.filter(event=OuterRef("pk")).order_by().values("event")
    return Coalesce(Subquery(rows.annotate(n=Count(counted, distinct=distinct)).values("n")), 0)


def events_with_key_counts(events: QuerySet[Event]) -> QuerySet[Event]:
    """The events annotated with holder_count, consented_count, enrolled_count, review_count
    and checked_in_count (holders admitted at least once), for the admin home."""
    holders = TicketHolder.objects.all()
    admits = CheckIn.objects.filter(decision=CheckIn.Decision.ADMIT, attendee__isnull=False)
    return events.annotate(
        holder_count=_count_per_event(holders),
        consented_count=_count_per_event(holders.filter(consent_at__isnull=False)),
        enrolled_count=_count_per_event(holders.filter(status=TicketHolder.Status.ENROLLED)),
        review_count=_count_per_event(holders.filter(needs_review=True)),
        checked_in_count=_count_per_event(admits, "attendee", distinct=True),
    )


def holder_checkins(holder: TicketHolder) -> QuerySet[CheckIn]:
    """The holder's attempts at the gates, newest first (the holder's admin page)."""
    return CheckIn.objects.filter(attendee=holder).select_related("gate", "staff_user")


def reason_words(code: str) -> str:
    """A stored reason code in the vocabulary's words ('—' for none); the short label when the
    message needs parameters that were not stored."""
    if not code:
        return "—"
    if code not in Reason.values:
        return code
    try:
        return reason_text(code)
    except (KeyError, ValueError, TypeError):
        return str(Reason(code).label)
