"""Writes for ticket holders and their enrollment photos."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.selectors import registration_block
from audit.models import AuditEntry
from audit.services import audit_record
from common.db import files_delete_on_commit, instance_update, rows_delete_returning
from common.gallery_feed import embeddings_changed_on_commit
from common.reasons import Reason, ReasonError
from common.tickets import ticket_code_normalise
from events.models import Event


def ticket_holder_create(
    *, event: Event, ticket_code: str, name: str, email: str = "", external_id: str = ""
) -> TicketHolder:
    holder = TicketHolder(
        event=event,
        ticket_code=ticket_code_normalise(ticket_code),
        name=name,
        email=email,
        external_id=external_id,
    )
    holder.full_clean()
    holder.save()
    return holder


def ticket_holder_update(*, holder: TicketHolder, **fields) -> TicketHolder:
    return instance_update(holder, fields)


PHOTO_STORAGE = EnrollmentPhoto._meta.get_field("image").storage


def enrollment_photos_bulk_delete(*, photos, embeddings) -> dict:
    """Delete photos and their embeddings in two statements, files after commit; returns counts.
    Call inside a transaction.

    Photos go first: their row locks make this wait for an enrollment worker that is storing
    an embedding, and the embeddings statement, run after, then sees that embedding too.
    """
    names = rows_delete_returning(photos, "image")
    embedding_count = _embeddings_delete(embeddings)
    files_delete_on_commit(PHOTO_STORAGE, names)
    return {"photos": len(names), "embeddings": embedding_count}


def _embeddings_delete(embeddings) -> int:
    """Delete face embeddings and tell the web processes that hold them in memory for
    face-only gates (common.gallery_feed), once the deletion commits."""
    deleted = rows_delete_returning(embeddings, ("event_id", "id"))
    embeddings_changed_on_commit(deleted)
    return len(deleted)


CONSENT_FIELDS = ("consent_at", "consent_text_version", "needs_review", "review_note")


def ticket_holders_consent_withdraw(holders) -> int:
    """Withdraw consent (and the duplicate-face flag that came from the face) of the given
    holders in one statement; a revoked ticket stays revoked. Returns how many changed."""
    revoked, invited = TicketHolder.Status.REVOKED, TicketHolder.Status.INVITED
    changed = holders.filter(
        Q(consent_at__isnull=False) | ~Q(status__in=[revoked, invited]) | Q(needs_review=True)
    )
    return changed.update(
        consent_at=None,
        consent_text_version="",
        needs_review=False,
        review_note="",
        status=Case(When(status=revoked, then=Value(revoked)), default=Value(invited)),
        updated_at=timezone.now(),
    )


def ticket_holder_record_consent(*, holder: TicketHolder, text_version: str) -> TicketHolder:
    holder.consent_at = timezone.now()
    holder.consent_text_version = text_version
    fields = ["consent_at", "consent_text_version", "updated_at"]
    if holder.status == TicketHolder.Status.INVITED:
        holder.status = TicketHolder.Status.CONSENTED
        fields.append("status")
    holder.save(update_fields=fields)
    return holder


def enrollment_photo_delete(*, photo: EnrollmentPhoto, actor=None, actor_label: str = "") -> None:
    """Delete the row (and its embeddings by cascade) and the file on disk."""
    holder = photo.holder
    with transaction.atomic():
        audit_record(
            action=AuditEntry.Action.PHOTO_DELETE,
            actor=actor,
            actor_label=actor_label,
            target=photo,
            details={"status": photo.status},
        )
        _embeddings_delete(photo.embeddings.all())
        photo.delete()
        files_delete_on_commit(photo.image.storage, [photo.image.name])
    ticket_holder_refresh_status(holder=holder)


def _derived_status(holder: TicketHolder) -> str:
    """What the holder's consent and photos make them; revocation is not derived (it is an
    organizer's act) and is handled by the callers."""
    if holder.photos.filter(status=EnrollmentPhoto.Status.ACCEPTED).exists():
        return TicketHolder.Status.ENROLLED
    if holder.has_consented:
        return TicketHolder.Status.CONSENTED
    return TicketHolder.Status.INVITED


def ticket_holder_refresh_status(*, holder: TicketHolder) -> TicketHolder:
    if holder.status == TicketHolder.Status.REVOKED:
        return holder
    status = _derived_status(holder)
    if status != holder.status:
        holder.status = status
        holder.save(update_fields=["status", "updated_at"])
    return holder


def ticket_holder_revoke(*, holder: TicketHolder) -> bool:
    """Revoke the ticket: the gates deny it and its registration link stops working. Consent
    and photos are kept, so an unrevoke restores the holder as they were. True if it changed."""
    if holder.status == TicketHolder.Status.REVOKED:
        return False
    holder.status = TicketHolder.Status.REVOKED
    holder.save(update_fields=["status", "updated_at"])
    return True


def ticket_holder_unrevoke(*, holder: TicketHolder) -> bool:
    """Undo a revocation: the status is derived again from consent and photos. True if it
    changed."""
    if holder.status != TicketHolder.Status.REVOKED:
        return False
    holder.status = _derived_status(holder)
    holder.save(update_fields=["status", "updated_at"])
    return True


def registration_consent_record(*, holder: TicketHolder, text_version: str) -> TicketHolder:
    """Consent given on the public registration page, for the text version the attendee read."""
    registration_check_open(holder)
    # A version mismatch means the text changed while the page was open: what the attendee
    # agreed to is not what we would record.
    if text_version != settings.FACEPASS_CONSENT_TEXT_VERSION:
        raise ReasonError(Reason.CONSENT_TEXT_CHANGED)
    return ticket_holder_record_consent(holder=holder, text_version=text_version)


def registration_check_open(holder: TicketHolder) -> None:
    """ReasonError unless this holder may give consent or add photos now."""
    block = registration_block(holder)
    if block is not None:
        raise ReasonError(block)


def ticket_holders_registration_links_issue(holders, *, only_missing: bool = False) -> int:
    """Issue (sign anew, from now) the registration links of the given holders, revoked ones
    left out; with only_missing, only links never issued or expired. Earlier links stay valid
    until they expire. Returns how many were issued."""
    holders = holders.exclude(status=TicketHolder.Status.REVOKED)
    now = timezone.now()
    if only_missing:
        oldest_valid = now - timedelta(seconds=settings.FACEPASS_REGISTRATION_LINK_MAX_AGE)
        holders = holders.filter(
            Q(registration_link_issued_at__isnull=True)
            | Q(registration_link_issued_at__lte=oldest_valid)
        )
    # A plain update: the queryset may come from an admin list with ordering and joins.
    return TicketHolder.objects.filter(pk__in=holders.values("pk")).update(
        registration_link_issued_at=now
    )
