"""Reads for ticket holders and photos."""

from django.db.models import QuerySet

from attendees.models import EnrollmentPhoto, TicketHolder
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
