"""The organizer's overview: one event's dashboard (counts with links to the filtered lists and
the gate pages, admissions per hour as plain HTML bars) and the admin home's event table."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from attendees.models import TicketHolder
from checkins.dashboard import event_dashboard, events_with_key_counts
from common.reasons import Reason
from events.models import CheckIn, Event
from events.selectors import events_for_user

HOME_EVENTS = 20


def _reason_label(code: str) -> str:
    if not code:
        return _("No reason recorded")
    return str(Reason(code).label) if code in Reason.values else code


def holders_url(event: Event, **filters) -> str:
    query = {"event__id__exact": event.pk, **filters}
    return f"{reverse('admin:attendees_ticketholder_changelist')}?{urlencode(query)}"


def checkins_url(event: Event, **filters) -> str:
    query = {"event__id__exact": event.pk, **filters}
    return f"{reverse('admin:events_checkin_changelist')}?{urlencode(query)}"


def _holder_rows(event: Event, board) -> list[tuple[str, int, str]]:
    status = TicketHolder.Status
    return [
        (_("Ticket holders"), board.holders, holders_url(event)),
        (_("Consented"), board.consented, holders_url(event, consent="given")),
        (
            _("Enrolled (accepted photo)"),
            board.enrolled,
            holders_url(event, status__exact=status.ENROLLED),
        ),
        (
            _("Invited, no consent yet"),
            board.by_status.get(status.INVITED, 0),
            holders_url(event, status__exact=status.INVITED),
        ),
        (
            _("Revoked tickets"),
            board.by_status.get(status.REVOKED, 0),
            holders_url(event, status__exact=status.REVOKED),
        ),
        (_("Need a face review"), board.needs_review, holders_url(event, needs_review__exact=1)),
        (_("Photos being checked"), board.photos_checking, holders_url(event, photos="checking")),
    ]


def _bars(rows: list[tuple[str, int, str]]) -> list[dict]:
    """Rows (label, count, link) with their bar width in percent of the largest count."""
    top = max((n for _, n, _ in rows), default=0) or 1
    return [
        {"label": label, "count": n, "url": url, "width": round(100 * n / top)}
        for label, n, url in rows
    ]


def event_dashboard_context(event: Event) -> dict:
    board = event_dashboard(event)
    hours = [
        (date_format(hour, "D H:i"), n, checkins_url(event, decision__exact=CheckIn.Decision.ADMIT))
        for hour, n in board.admits_by_hour
    ]
    return {
        "event": event,
        "board": board,
        "holder_rows": _holder_rows(event, board),
        "rejected": _bars(
            [
                (_reason_label(code), n, holders_url(event, rejected_reason=code))
                for code, n in board.rejected_by_reason
            ]
        ),
        "by_gate": _bars(
            [
                (name, n, checkins_url(event, gate__id__exact=gate_id, decision__exact="admit"))
                for gate_id, name, n in board.admits_by_gate
            ]
        ),
        "by_hour": _bars(hours),
        "denials": _bars(
            [
                (_reason_label(code), n, checkins_url(event, decision__exact="deny", reason=code))
                for code, n in board.denials_by_reason
            ]
        ),
        "checked_in_url": checkins_url(event, decision__exact=CheckIn.Decision.ADMIT),
        "reviews_url": checkins_url(event, decision__exact=CheckIn.Decision.REVIEW),
        "gate_links": [(gate, reverse("gate-page", args=[gate.pk])) for gate in board.gates],
    }


def event_dashboard_view(model_admin, request, event: Event):
    context = {
        **model_admin.admin_site.each_context(request),
        **event_dashboard_context(event),
        "title": _("Dashboard: %(event)s") % {"event": event.name},
        "opts": model_admin.model._meta,
        "original": event,
    }
    return render(request, "admin/events/event/dashboard.html", context)


def home_events(user) -> list[dict]:
    """The latest events this user sees, with their key counts and links (admin home)."""
    events = events_with_key_counts(events_for_user(user).order_by("-starts_at"))[:HOME_EVENTS]
    return [
        {
            "event": event,
            "dashboard_url": reverse("admin:events_event_dashboard", args=[event.pk]),
            "holders_url": holders_url(event),
            "checkins_url": checkins_url(event),
        }
        for event in events
    ]
