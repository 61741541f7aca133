"""Privacy services: an attendee's data export, deleting a holder's or a whole event's biometric
data, and the retention purge. They span every app's data (photos, embeddings, gate frames), so
they live above all of them. Deletions are bulk statements (an event may have 100k holders)
with files removed after commit, and each is recorded in the audit log."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Value,
)
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import (
    CONSENT_FIELDS,
    enrollment_photos_bulk_delete,
    ticket_holders_consent_withdraw,
)
from audit.models import AuditEntry
from audit.services import audit_record
from checkins.services import checkin_frames_delete
from events.models import CheckIn, CheckInFrame, Event
from recognition.models import FaceEmbedding

logger = logging.getLogger(__name__)

PURGE_ACTOR = "system: retention purge"
EXPORT_FORMAT = "facepass-personal-data/1"


# --- Deleting one holder's data -------------------------------------------------------------


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


# --- Deleting an event's biometric data -------------------------------------------------------


def _event_face_data(event: Event) -> dict:
    return {
        "photos": EnrollmentPhoto.objects.filter(holder__event=event),
        "embeddings": FaceEmbedding.objects.filter(event=event),
        "gate_frames": CheckInFrame.objects.filter(checkin__event=event),
    }


def _event_face_data_delete(event: Event) -> dict:
    """Every photo, embedding and kept gate frame of the event; consent withdrawn from its
    holders. Call inside a transaction."""
    data = _event_face_data(event)
    deleted = enrollment_photos_bulk_delete(photos=data["photos"], embeddings=data["embeddings"])
    deleted["gate_frames"] = checkin_frames_delete(data["gate_frames"])
    deleted["holders_reset"] = ticket_holders_consent_withdraw(
        TicketHolder.objects.filter(event=event)
    )
    return deleted


def event_biometrics_delete(*, event: Event, actor=None, actor_label: str = "") -> dict:
    """Delete all biometric data of one event at once (organizer's decision); the tickets and
    the check-in log stay. Returns what was deleted, by kind."""
    with transaction.atomic():
        deleted = _event_face_data_delete(event)
        audit_record(
            action=AuditEntry.Action.EVENT_BIOMETRICS_DELETE,
            actor=actor,
            actor_label=actor_label,
            organization=event.organization,
            target=event,
            details=deleted,
        )
    logger.info("biometric data of event %s deleted: %s", event.pk, deleted)
    return deleted


def event_face_data_counts(event: Event) -> dict:
    """How much biometric data the event holds (for confirmation pages and dry runs)."""
    return {kind: qs.count() for kind, qs in _event_face_data(event).items()}


# --- Retention purge ---------------------------------------------------------------------------


def events_past_retention(now=None):
    """Events whose biometric retention (ends_at + biometric_retention_days) has passed and
    that still hold biometric data."""
    now = now or timezone.now()
    retention_end = ExpressionWrapper(
        F("ends_at") + F("biometric_retention_days") * Value(timedelta(days=1)),
        output_field=DateTimeField(),
    )
    has_data = (
        Exists(EnrollmentPhoto.objects.filter(holder__event=OuterRef("pk")))
        | Exists(FaceEmbedding.objects.filter(event=OuterRef("pk")))
        | Exists(CheckInFrame.objects.filter(checkin__event=OuterRef("pk")))
    )
    return (
        Event.objects.select_related("organization")
        .alias(retention_end=retention_end)
        .filter(has_data, retention_end__lte=now)
        .order_by("ends_at", "pk")
    )


def biometrics_purge_expired(*, dry_run: bool = False, now=None) -> dict:
    """Delete the photos, embeddings and gate frames of every event past its retention, and
    every gate frame past its expiry. Each event touched gets one audit entry. With dry_run,
    counts what would go and deletes nothing."""
    now = now or timezone.now()
    totals = {"events": 0, "photos": 0, "embeddings": 0, "gate_frames": 0}
    for event in events_past_retention(now):
        counts = event_face_data_counts(event) if dry_run else _purge_event(event)
        totals["events"] += 1
        for kind in ("photos", "embeddings", "gate_frames"):
            totals[kind] += counts[kind]
    totals["gate_frames"] += _purge_expired_frames(now, dry_run=dry_run)
    if not dry_run:
        logger.info("retention purge: %s", totals)
    return totals


def _purge_event(event: Event) -> dict:
    with transaction.atomic():
        deleted = _event_face_data_delete(event)
        audit_record(
            action=AuditEntry.Action.RETENTION_PURGE,
            actor_label=PURGE_ACTOR,
            organization=event.organization,
            target=event,
            details={
                **deleted,
                "reason": "biometric retention ended",
                "retention_days": event.biometric_retention_days,
            },
        )
    return deleted


def _purge_expired_frames(now, *, dry_run: bool) -> int:
    """Gate frames past their expiry, grouped by event so each event gets one audit entry."""
    expired = CheckInFrame.objects.filter(expires_at__lte=now)
    if dry_run:
        return expired.count()
    total = 0
    event_ids = expired.values_list("checkin__event", flat=True).distinct()
    for event in Event.objects.filter(pk__in=list(event_ids)).select_related("organization"):
        with transaction.atomic():
            count = checkin_frames_delete(expired.filter(checkin__event=event))
            if count:
                audit_record(
                    action=AuditEntry.Action.RETENTION_PURGE,
                    actor_label=PURGE_ACTOR,
                    organization=event.organization,
                    target=event,
                    details={"gate_frames": count, "reason": "dispute frame retention ended"},
                )
        total += count
    return total


# --- Export --------------------------------------------------------------------------------------


def _iso(value):
    return value.isoformat() if value is not None else None


def _photo_export(photo: EnrollmentPhoto) -> dict:
    models = sorted({e.model.label for e in photo.embeddings.all()})
    return {
        "id": photo.pk,
        "status": photo.status,
        "uploaded_at": _iso(photo.created_at),
        "processed_at": _iso(photo.processed_at),
        "quality": photo.quality,
        "rejection_code": photo.rejection_code,
        "rejection_message": photo.rejection_message,
        # What face templates exist, never their numbers.
        "face_templates": {"count": len(photo.embeddings.all()), "model_versions": models},
    }


def _checkin_export(checkin: CheckIn) -> dict:
    return {
        "time": _iso(checkin.created_at),
        "gate": checkin.gate.name,
        "decision": checkin.decision,
        "reason": checkin.reason,
        "staff_override": checkin.overrides_id is not None,
        "frames_kept": checkin.frames_kept,  # type: ignore[attr-defined]  # annotated
    }


def ticket_holder_export_data(holder: TicketHolder) -> dict:
    """Everything FacePass holds about one ticket holder, as JSON-ready data. Left out: face
    template numbers, and the duplicate-face review note (it names another person)."""
    event = holder.event
    templates = FaceEmbedding.objects.select_related("model").only(
        "photo", "model__name", "model__version"
    )
    photos = holder.photos.order_by("created_at", "pk").prefetch_related(
        Prefetch("embeddings", queryset=templates)
    )
    checkins = (
        CheckIn.objects.filter(attendee=holder)
        .select_related("gate")
        .annotate(frames_kept=Count("frames"))
        .order_by("created_at", "pk")
    )
    retention_end = event.ends_at + timedelta(days=event.biometric_retention_days)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(timezone.now()),
        "ticket_holder": {
            "name": holder.name,
            "email": holder.email,
            "ticket_code": holder.ticket_code,
            "external_id": holder.external_id,
            "status": holder.status,
            "created_at": _iso(holder.created_at),
        },
        "event": {
            "name": event.name,
            "venue": event.venue,
            "starts_at": _iso(event.starts_at),
            "ends_at": _iso(event.ends_at),
            "biometric_data_deleted_after": _iso(retention_end),
        },
        "consent": {
            "given_at": _iso(holder.consent_at),
            "text_version": holder.consent_text_version or None,
        },
        "photos": [_photo_export(photo) for photo in photos],
        "check_ins": [_checkin_export(checkin) for checkin in checkins],
    }


def ticket_holder_data_export(*, holder: TicketHolder, actor=None, actor_label: str = "") -> dict:
    """The holder's data export (see ticket_holder_export_data), recorded in the audit log."""
    data = ticket_holder_export_data(holder)
    audit_record(
        action=AuditEntry.Action.DATA_EXPORT,
        actor=actor,
        actor_label=actor_label,
        target=holder,
        details={"photos": len(data["photos"]), "check_ins": len(data["check_ins"])},
    )
    return data
