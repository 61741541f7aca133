"""Writes for ticket holders and their enrollment photos."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.selectors import registration_block
from events.models import Event
from events.services import instance_update


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


def ticket_holder_delete(*, holder: TicketHolder) -> None:
    """Delete a holder with their photos and embeddings, and the selfie files on disk."""
    files = [(p.image.storage, p.image.name) for p in holder.photos.all() if p.image.name]

    def _delete_files():
        for storage, name in files:
            storage.delete(name)

    with transaction.atomic():
        holder.delete()
        transaction.on_commit(_delete_files)


def ticket_holder_biometrics_delete(*, holder: TicketHolder) -> int:
    """Delete every photo and embedding of a holder (files too); the ticket itself stays.

    Consent is withdrawn with the data, so no new photo is processed without asking again.
    Returns the number of photos deleted.
    """
    photos = list(holder.photos.all())
    files = [(p.image.storage, p.image.name) for p in photos if p.image.name]

    def _delete_files():
        for storage, name in files:
            storage.delete(name)

    with transaction.atomic():
        holder.photos.all().delete()  # embeddings go by cascade
        holder.consent_at = None
        holder.consent_text_version = ""
        holder.needs_review = False
        holder.review_note = ""
        fields = ["consent_at", "consent_text_version", "needs_review", "review_note"]
        if holder.status != TicketHolder.Status.REVOKED:
            holder.status = TicketHolder.Status.INVITED
            fields.append("status")
        holder.save(update_fields=[*fields, "updated_at"])
        transaction.on_commit(_delete_files)
    return len(photos)


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

    enroll_photo.delay(photo_id)


def enrollment_photo_delete(*, photo: EnrollmentPhoto) -> None:
    """Delete the row (and its embeddings by cascade) and the file on disk."""
    holder = photo.holder
    storage, name = photo.image.storage, photo.image.name
    with transaction.atomic():
        photo.delete()
        transaction.on_commit(lambda: storage.delete(name) if name else None)
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
