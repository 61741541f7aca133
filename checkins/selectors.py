"""Reads for check-ins: the log of an event, which attempts stand as an entry, and what a
face-only gate of an event can expect."""

from __future__ import annotations

import statistics
import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from common.reasons import Reason
from events.models import CheckIn, Event
from recognition.ml.runtime import openset
from recognition.models import EmbeddingModel, FaceEmbedding
from recognition.selectors import enrolled_holder_count, model_calibration


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


def admit_override_refusal(checkin: CheckIn) -> Reason | None:
    """Why staff may not admit this attempt's person anyway; None when they may. An override to
    admit lets a person in on staff's word, but never past the ticket: it needs a known, valid
    ticket, open gates and, under single entry, no standing entry."""
    holder, event = checkin.attendee, checkin.event
    if holder is None:
        return Reason.NO_TICKET_HOLDER
    if holder.status == holder.Status.REVOKED:
        return Reason.TICKET_REVOKED
    if event.status != Event.Status.GATES_OPEN:
        return Reason.GATES_NOT_OPEN
    if event.entry_policy == Event.EntryPolicy.SINGLE_ENTRY and standing_entries(holder).exists():
        return Reason.ALREADY_CHECKED_IN
    return None


def override_actions(checkin: CheckIn) -> list[str]:
    """The overrides staff can make of this result now (its attempt's, for an override row):
    the gate page offers these and only these, so no button is refused after a typed reason."""
    attempt = checkin.overrides or checkin
    standing = standing_decision(attempt)
    actions = []
    if standing != CheckIn.Decision.ADMIT and admit_override_refusal(attempt) is None:
        actions.append(CheckIn.Decision.ADMIT.value)
    if standing != CheckIn.Decision.DENY:
        actions.append(CheckIn.Decision.DENY.value)
    return actions


@dataclass(frozen=True)
class EntryUsed:
    """Where and when a ticket was used: what an "already checked in" deny points at."""

    at: datetime
    gate_id: int
    gate_name: str
    time_zone: str

    def as_json(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "gate": self.gate_id,
            "gate_name": self.gate_name,
            "time_zone": self.time_zone,
            "text": self.text,
        }

    @property
    def text(self) -> str:
        """ "Used at 14:32 on 02/12/2026 at North gate.", in the active language and the time
        zone of the event (else the site's)."""
        local = timezone.localtime(self.at, zoneinfo.ZoneInfo(self.time_zone))
        return _("Used at %(time)s on %(date)s at %(gate)s.") % {
            "time": formats.time_format(local, "TIME_FORMAT"),
            "date": formats.date_format(local, "SHORT_DATE_FORMAT"),
            "gate": self.gate_name,
        }


def entry_used(checkin: CheckIn) -> EntryUsed | None:
    """For an "already checked in" deny: the standing entry that used the ticket before it."""
    if checkin.reason != Reason.ALREADY_CHECKED_IN or checkin.attendee_id is None:
        return None
    entry = (
        standing_entries(checkin.attendee)
        .filter(created_at__lte=checkin.created_at)
        .exclude(pk=checkin.pk)
        .select_related("gate", "event")
        .order_by("-created_at", "-pk")
        .first()
    )
    if entry is None:
        return None
    zone = entry.event.time_zone
    return EntryUsed(entry.created_at, entry.gate_id, entry.gate.name, zone)


@dataclass(frozen=True)
class FaceOnlyCapacity:
    """What a face-only gate of this event can expect at its security level and current size,
    from the active model's open-set calibration (one camera frame per attempt)."""

    holders: int  # enrolled holders now
    photos: int  # enrollment photos per holder (the event's median)
    level: float  # FPIR: strangers admitted as someone
    expected_fpir: float
    expected_tpir: float  # holders admitted without review
    expected_review: float  # holders sent to review
    expected_stranger_review: float  # strangers sent to review
    beyond_calibration: bool  # no face-only admit at this size: every match goes to review
    model: str

    @property
    def face_only_sensible(self) -> bool:
        """Below half the holders admitted without review, ticket + face is the mode."""
        return self.expected_tpir >= 0.5 and not self.beyond_calibration


def _median_photos(event: Event, model) -> int:
    counts = list(
        FaceEmbedding.objects.filter(event=event, model=model)
        .values("holder_id")
        .annotate(n=Count("pk"))
        .values_list("n", flat=True)
    )
    return max(1, int(statistics.median(counts))) if counts else 1


def face_only_capacity(event: Event, holders: int | None = None) -> FaceOnlyCapacity | None:
    """The expected FPIR, TPIR and review shares of a face-only gate of this event (for
    `holders` enrolled holders, default: as many as now); None without an active calibrated
    model."""
    model = EmbeddingModel.objects.filter(is_active=True).first()
    calibration = model_calibration(model) if model is not None else None
    if calibration is None:
        return None
    if holders is None:
        holders = enrolled_holder_count(event_id=event.pk, model=model)
    photos, level = _median_photos(event, model), float(event.target_far)
    figures = openset.capacity(
        calibration, max(holders, 1), level, photos, settings.FACEPASS_GATE_1N_MARGIN
    )
    beyond = figures.beyond_calibration  # no face-only admit at all: every match is reviewed
    return FaceOnlyCapacity(
        holders=holders,
        photos=photos,
        level=level,
        expected_fpir=0.0 if beyond else figures.expected_fpir,
        expected_tpir=0.0 if beyond else figures.expected_tpir,
        expected_review=figures.expected_review + (figures.expected_tpir if beyond else 0.0),
        expected_stranger_review=figures.expected_stranger_review,
        beyond_calibration=figures.beyond_calibration,
        model=model.label,
    )
