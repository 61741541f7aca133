"""Reads for ticket holders and photos."""

from collections import Counter

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from attendees.models import EnrollmentPhoto, TicketHolder
from common.reasons import Reason
from common.tickets import ticket_code_normalise, with_ticket_code
from events.models import Event
from events.selectors import organization_ids_for_user


def ticket_holders_for_user(user) -> QuerySet[TicketHolder]:
    qs = TicketHolder.objects.select_related("event", "event__organization")
    if user.is_superuser:
        return qs
    return qs.filter(event__organization_id__in=organization_ids_for_user(user))


def enrollment_photo_for_user(user, photo_id: int) -> EnrollmentPhoto | None:
    """The photo if this user's organization owns it, else None (callers answer 404)."""
    qs = EnrollmentPhoto.objects.select_related("holder__event")
    if not user.is_superuser:
        qs = qs.filter(holder__event__organization_id__in=organization_ids_for_user(user))
    return qs.filter(pk=photo_id).first()


def latest_accepted_photo(holder: TicketHolder) -> EnrollmentPhoto | None:
    return (
        holder.photos.filter(status=EnrollmentPhoto.Status.ACCEPTED).order_by("-created_at").first()
    )


def ticket_holder_by_code_and_email(*, ticket_code: str, email: str) -> TicketHolder | None:
    """The holder whose ticket code and e-mail both match, both case-insensitively.

    Codes are unique per event only, so the e-mail is what singles out the holder; should one
    person hold the same code at several events, the latest event is meant.
    """
    ticket_code, email = ticket_code_normalise(ticket_code), email.strip()
    if not ticket_code or not email:
        return None
    holders = TicketHolder.objects.select_related("event").filter(email__iexact=email)
    return with_ticket_code(holders, ticket_code, "-event__starts_at", "-pk").first()


def registration_block(holder: TicketHolder) -> Reason | None:
    """Why this holder may not give consent or add photos now; None when they may."""
    event = holder.event
    if holder.status == TicketHolder.Status.REVOKED:
        return Reason.TICKET_REVOKED
    if event.status == Event.Status.CLOSED or event.ends_at <= timezone.now():
        return Reason.EVENT_CLOSED
    if event.status == Event.Status.DRAFT:
        return Reason.REGISTRATION_NOT_OPEN
    return None


def ticket_holder_photos(holder: TicketHolder) -> QuerySet[EnrollmentPhoto]:
    return holder.photos.order_by("-created_at", "-pk")


def ticket_holder_photo(holder: TicketHolder, photo_id: int) -> EnrollmentPhoto | None:
    return holder.photos.filter(pk=photo_id).first()


CHECKING = (EnrollmentPhoto.Status.PENDING, EnrollmentPhoto.Status.PROCESSING)


def ticket_holder_status_detail(holder: TicketHolder) -> str:
    """The holder's status in words with what it comes from: consent and the photos (accepted,
    being checked, rejected and why). Reads holder.photos.all(), so a prefetch serves a list."""
    photos = list(holder.photos.all())
    accepted = sum(p.status == EnrollmentPhoto.Status.ACCEPTED for p in photos)
    checking = sum(p.status in CHECKING for p in photos)
    rejected = Counter(
        p.rejection_code for p in photos if p.status == EnrollmentPhoto.Status.REJECTED
    )
    parts = [str(holder.get_status_display())]
    if holder.status != TicketHolder.Status.INVITED and not holder.has_consented:
        parts.append(_("no consent"))
    if accepted:
        parts.append(ngettext("%d photo accepted", "%d photos accepted", accepted) % accepted)
    if checking:
        text = ngettext("%d photo being checked", "%d photos being checked", checking)
        parts.append(text % checking)
    for code, count in sorted(rejected.items()):
        label = Reason(code).label if code in Reason.values else _("no reason given")
        parts.append(
            ngettext("%(n)d photo rejected: %(why)s", "%(n)d photos rejected: %(why)s", count)
            % {"n": count, "why": label}
        )
    return " · ".join(parts)
