"""Writes for ticket holders and their enrollment photos."""

import logging

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.selectors import registration_block
from audit.models import AuditEntry
from audit.services import audit_record
from events.models import CheckInFrame, Event
from events.services import (
    checkin_frames_delete,
    files_delete_on_commit,
    instance_update,
    rows_delete_returning,
)
from facepass_site.unavailable import QUEUE_ERRORS

logger = logging.getLogger(__name__)


class EnrollmentError(Exception):
    """A photo cannot be accepted for enrollment; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def ticket_holder_create(
    *, event: Event, ticket_code: str, name: str, email: str = "", external_id: str = ""
) -> TicketHolder:
    holder = TicketHolder(
        event=event, ticket_code=ticket_code, name=name, email=email, external_id=external_id
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
    embedding_count, _ = embeddings.delete()
    files_delete_on_commit(PHOTO_STORAGE, names)
    return {"photos": len(names), "embeddings": embedding_count}


def _holder_face_data_delete(holder: TicketHolder) -> dict:
    """Photos, embeddings and kept gate frames of one holder. Call inside a transaction."""
    deleted = enrollment_photos_bulk_delete(
        photos=holder.photos.all(), embeddings=holder.embeddings.all()
    )
    frames = CheckInFrame.objects.filter(checkin__attendee=holder)
    return {**deleted, "gate_frames": checkin_frames_delete(frames)}


def ticket_holder_delete(*, holder: TicketHolder, actor=None, actor_label: str = "") -> None:
    """Delete a holder with their photos, embeddings and gate frames, files included."""
    with transaction.atomic():
        audit_record(
            action=AuditEntry.Action.HOLDER_DELETE,
            actor=actor,
            actor_label=actor_label,
            target=holder,
            details=_holder_face_data_delete(holder),
        )
        holder.delete()


def ticket_holder_biometrics_delete(
    *, holder: TicketHolder, actor=None, actor_label: str = ""
) -> int:
    """Delete every photo, embedding and kept gate frame of a holder (files too); the ticket
    itself stays.

    Consent is withdrawn with the data, so no new photo is processed without asking again.
    Returns the number of photos deleted.
    """
    with transaction.atomic():
        deleted = _holder_face_data_delete(holder)
        audit_record(
            action=AuditEntry.Action.HOLDER_BIOMETRICS_DELETE,
            actor=actor,
            actor_label=actor_label,
            target=holder,
            details=deleted,
        )
        ticket_holders_consent_withdraw(TicketHolder.objects.filter(pk=holder.pk))
    holder.refresh_from_db(fields=[*CONSENT_FIELDS, "status", "updated_at"])
    return deleted["photos"]


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


def enrollment_photo_create(*, holder: TicketHolder, image_bytes: bytes) -> EnrollmentPhoto:
    """Store a selfie privately and queue it for the recognition worker once committed."""
    if not holder.has_consented:
        raise EnrollmentError(
            "consent_required", "Consent to biometric processing is required before any photo."
        )
    if holder.status == TicketHolder.Status.REVOKED:
        raise EnrollmentError("ticket_revoked", "This ticket has been revoked.")
    if len(image_bytes) > settings.FACEPASS_UPLOAD_MAX_BYTES:
        limit_mb = settings.FACEPASS_UPLOAD_MAX_BYTES / 1_048_576
        raise EnrollmentError("too_large", f"The photo is larger than {limit_mb:.0f} MB.")
    active = holder.photos.exclude(status=EnrollmentPhoto.Status.REJECTED).count()
    if active >= settings.FACEPASS_MAX_PHOTOS_PER_HOLDER:
        raise EnrollmentError(
            "too_many_photos",
            f"At most {settings.FACEPASS_MAX_PHOTOS_PER_HOLDER} photos per ticket holder; "
            "delete one first.",
        )
    with transaction.atomic():
        photo = EnrollmentPhoto(holder=holder)
        photo.image.save("selfie.jpg", ContentFile(image_bytes), save=False)
        photo.save()
        transaction.on_commit(lambda: _queue_enrollment(photo.pk))
    return photo


def _queue_enrollment(photo_id: int) -> None:
    from recognition.tasks import enroll_photo

    try:
        enroll_photo.delay(photo_id)
    except QUEUE_ERRORS:
        # The photo is stored and stays pending: enrollment_requeue_lost queues it once the
        # broker is back. The attendee's upload is not lost, so it is not failed either.
        logger.error("photo %s stored but not queued: the broker is unavailable", photo_id)


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
        photo.delete()
        files_delete_on_commit(photo.image.storage, [photo.image.name])
    ticket_holder_refresh_status(holder=holder)


def ticket_holder_refresh_status(*, holder: TicketHolder) -> TicketHolder:
    if holder.status == TicketHolder.Status.REVOKED:
        return holder
    accepted = holder.photos.filter(status=EnrollmentPhoto.Status.ACCEPTED).exists()
    if accepted:
        status = TicketHolder.Status.ENROLLED
    elif holder.has_consented:
        status = TicketHolder.Status.CONSENTED
    else:
        status = TicketHolder.Status.INVITED
    if status != holder.status:
        holder.status = status
        holder.save(update_fields=["status", "updated_at"])
    return holder


def registration_consent_record(*, holder: TicketHolder, text_version: str) -> TicketHolder:
    """Consent given on the public registration page, for the text version the attendee read."""
    _registration_check_open(holder)
    # A version mismatch means the text changed while the page was open: what the attendee
    # agreed to is not what we would record.
    if text_version != settings.FACEPASS_CONSENT_TEXT_VERSION:
        raise EnrollmentError(
            "consent_text_changed",
            "The consent text has changed since you opened this page. Please read it again.",
        )
    return ticket_holder_record_consent(holder=holder, text_version=text_version)


def registration_photo_add(*, holder: TicketHolder, image_bytes: bytes) -> EnrollmentPhoto:
    """A selfie from the public registration page: only while the event takes registrations."""
    _registration_check_open(holder)
    return enrollment_photo_create(holder=holder, image_bytes=image_bytes)


def _registration_check_open(holder: TicketHolder) -> None:
    block = registration_block(holder)
    if block is not None:
        raise EnrollmentError(block.code, block.message)
