"""Writes for models, embeddings and the outcome of enrollment."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import ticket_holder_refresh_status
from audit.models import AuditEntry
from audit.services import audit_record
from events.services import files_delete_on_commit
from recognition.ml.runtime.pipeline import FaceResult
from recognition.ml.runtime.quality import QualityVerdict
from recognition.models import EmbeddingModel, FaceEmbedding
from recognition.selectors import model_threshold, nearest_holders
from webhooks.services import enrollment_photo_webhook_emit

logger = logging.getLogger(__name__)


def embedding_model_register(*, metadata: dict, artifact_path: str = "") -> EmbeddingModel:
    """Create or refresh the registry row of an artifact (keyed on name and version)."""
    model, _ = EmbeddingModel.objects.update_or_create(
        name=metadata["name"],
        version=metadata["version"],
        defaults={
            "kind": metadata["embedder"],
            "dimensions": metadata["dimensions"],
            "artifact_path": artifact_path,
            "thresholds": metadata.get("thresholds", {}),
            "metrics": metadata.get("metrics", {}),
        },
    )
    return model


def embedding_model_activate(
    *, model: EmbeddingModel, actor=None, actor_label: str = ""
) -> EmbeddingModel:
    """Make this the one model queries use; embeddings of other versions are left unused."""
    if not model.thresholds:
        raise ValueError(f"{model.label} has no threshold table: evaluate it before activating.")
    with transaction.atomic():
        previous = list(
            EmbeddingModel.objects.filter(is_active=True).exclude(pk=model.pk).select_for_update()
        )
        EmbeddingModel.objects.filter(pk__in=[m.pk for m in previous]).update(is_active=False)
        model.is_active = True
        model.activated_at = timezone.now()
        model.save(update_fields=["is_active", "activated_at"])
        audit_record(
            action=AuditEntry.Action.MODEL_ACTIVATE,
            actor=actor,
            actor_label=actor_label,
            target=model,
            details={"model": model.label, "previous": [m.label for m in previous]},
        )
    return model


def relative_artifact_path(path: str | Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def enrollment_photos_claim(*, photo_ids: list[int], extra: int) -> list[EnrollmentPhoto]:
    """Lock and mark as processing the given photos plus up to `extra` other waiting ones.

    A claim older than the task time limit belongs to a killed worker and is taken
    again, so no photo is ever lost.
    """
    stale_before = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    waiting = EnrollmentPhoto.objects.filter(status=EnrollmentPhoto.Status.PENDING) | (
        EnrollmentPhoto.objects.filter(
            status=EnrollmentPhoto.Status.PROCESSING, processing_started_at__lt=stale_before
        )
    )
    own_ids = set(photo_ids)
    with transaction.atomic():
        locked = EnrollmentPhoto.objects.select_for_update(skip_locked=True, of=("self",))
        own = list(
            locked.select_related("holder__event")
            .filter(pk__in=own_ids)
            .filter(pk__in=waiting.values("pk"))
        )
        others = list(
            locked.select_related("holder__event")
            .filter(pk__in=waiting.exclude(pk__in=own_ids).values("pk"))
            .order_by("created_at")[:extra]
        )
        claimed = own + others
        now = timezone.now()
        for photo in claimed:
            photo.status = EnrollmentPhoto.Status.PROCESSING
            photo.processing_started_at = now
            photo.attempts += 1
        EnrollmentPhoto.objects.bulk_update(
            claimed, ["status", "processing_started_at", "attempts"]
        )
    return claimed


def enrollment_photos_release(*, photos: list[EnrollmentPhoto]) -> None:
    """Hand claimed photos back to the queue (a transient error interrupted the batch)."""
    EnrollmentPhoto.objects.filter(
        pk__in=[p.pk for p in photos], status=EnrollmentPhoto.Status.PROCESSING
    ).update(status=EnrollmentPhoto.Status.PENDING, processing_started_at=None)


def enrollment_photo_record_result(
    *, photo: EnrollmentPhoto, model: EmbeddingModel, result: FaceResult
) -> EnrollmentPhoto | None:
    """Store the outcome; None when the photo was deleted while it was being processed."""
    verdict = result.verdict
    photo.quality = {k: round(float(v), 3) for k, v in verdict.figures.items()}
    photo.face_box = [round(float(v), 1) for v in verdict.face.box] if verdict.face else None
    photo.processed_at = timezone.now()
    photo.processing_started_at = None
    with transaction.atomic():
        # The attendee may delete the photo mid-processing. The row lock makes such a delete
        # wait for this result; a photo already gone is skipped instead of failing the batch
        # (and with it the other attendees' photos).
        if not EnrollmentPhoto.objects.select_for_update().filter(pk=photo.pk).exists():
            logger.info("photo %s was deleted while being processed; result dropped", photo.pk)
            return None
        if result.accepted:
            photo.status = EnrollmentPhoto.Status.ACCEPTED
            photo.rejection_code = photo.rejection_message = ""
            face_embedding_store(photo=photo, model=model, vector=result.embedding)
        else:
            photo.status = EnrollmentPhoto.Status.REJECTED
            photo.rejection_code = verdict.code or "rejected"
            photo.rejection_message = verdict.message[:300]
        photo.save(
            update_fields=[
                "status",
                "quality",
                "face_box",
                "processed_at",
                "processing_started_at",
                "rejection_code",
                "rejection_message",
            ]
        )
        enrollment_photo_webhook_emit(photo=photo)
    ticket_holder_refresh_status(holder=photo.holder)
    if result.accepted:
        duplicate_face_check(photo=photo, model=model, vector=result.embedding)
    return photo


CONSENT_REQUIRED = FaceResult(
    QualityVerdict(
        False,
        "consent_required",
        "Consent to biometric processing was withdrawn, so this photo was not processed "
        "and has been deleted.",
    ),
    None,
)


def enrollment_photos_refuse_without_consent(
    *, photos: list[EnrollmentPhoto], model: EmbeddingModel
) -> None:
    """Reject claimed photos whose holder has no consent now, unlooked-at, and delete their
    files: the upload checked consent, but it may have gone since."""
    for photo in photos:
        storage, name = photo.image.storage, photo.image.name
        with transaction.atomic():
            if enrollment_photo_record_result(photo=photo, model=model, result=CONSENT_REQUIRED):
                EnrollmentPhoto.objects.filter(pk=photo.pk).update(image="")
                audit_record(
                    action=AuditEntry.Action.PHOTO_DELETE,
                    actor_label="system: enrollment worker",
                    target=photo,
                    details={"reason": "consent_required", "file_only": True},
                )
                files_delete_on_commit(storage, [name])


def face_embedding_store(
    *, photo: EnrollmentPhoto, model: EmbeddingModel, vector: np.ndarray
) -> FaceEmbedding:
    embedding, _ = FaceEmbedding.objects.update_or_create(
        photo=photo,
        model=model,
        defaults={
            "event_id": photo.holder.event_id,
            "holder_id": photo.holder_id,
            "vector": np.asarray(vector, dtype=np.float32),
        },
    )
    return embedding


def duplicate_face_check(*, photo: EnrollmentPhoto, model: EmbeddingModel, vector) -> bool:
    """Flag both holders when this face matches another holder of the same event.

    One person holding several tickets under different names is what this catches;
    the 1:N threshold at the event's security level decides what "matches" means.
    """
    holder = photo.holder
    threshold = model_threshold(model, holder.event.target_far)
    matches = nearest_holders(
        event=holder.event_id, model=model, vector=vector, limit=1, exclude_holder_id=holder.pk
    )
    if not matches or matches[0].similarity < threshold:
        return False
    other = TicketHolder.objects.get(pk=matches[0].holder_id)
    note = "Face matches {} ({}) with similarity {:.2f}."
    for flagged, twin in ((holder, other), (other, holder)):
        flagged.needs_review = True
        flagged.review_note = note.format(twin.name, twin.ticket_code, matches[0].similarity)
        flagged.save(update_fields=["needs_review", "review_note", "updated_at"])
    logger.warning("possible duplicate person: holders %s and %s", holder.pk, other.pk)
    return True
