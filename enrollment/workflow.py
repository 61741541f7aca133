"""The enrollment workflow, one owner from upload to holder status:

    upload (store privately, queue on commit) -> claim a batch -> embed (recognition.inference)
    -> record each result (embedding stored, or the rejection's reason) -> holder status
    -> duplicate-face flags -> the event's search index

Below it, `recognition` offers embedding, storage and search; `attendees` owns holders and photos.
Neither calls the other, nor back up into this module.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import registration_check_open, ticket_holder_refresh_status
from audit.models import AuditEntry
from audit.services import audit_record
from common import queues
from common.db import files_delete_on_commit, rows_update
from common.images import upload_size_check
from common.reasons import Reason, ReasonError, reason_text
from common.unavailable import QUEUE_ERRORS
from enrollment.duplicates import duplicate_faces_flag
from enrollment.selectors import photos_missing_embedding, photos_with_lost_tasks
from recognition import inference
from recognition.ml.runtime.pipeline import FaceResult, timed
from recognition.models import EmbeddingModel
from recognition.search_index import event_search_index_ensure
from recognition.selectors import (
    active_model,
    enrolled_holder_count_refresh,
)
from recognition.services import face_embedding_store, face_embeddings_store
from webhooks.services import enrollment_photos_webhook_emit

logger = logging.getLogger(__name__)
WORKER = "system: enrollment worker"


# --- Upload and queue ----------------------------------------------------------------------


def enrollment_photo_create(*, holder: TicketHolder, image_bytes: bytes) -> EnrollmentPhoto:
    """Store a selfie privately and queue it for the recognition worker once committed."""
    if not holder.has_consented:
        raise ReasonError(Reason.CONSENT_REQUIRED)
    if holder.status == TicketHolder.Status.REVOKED:
        raise ReasonError(Reason.TICKET_REVOKED)
    upload_size_check(len(image_bytes))
    active = holder.photos.exclude(status=EnrollmentPhoto.Status.REJECTED).count()
    if active >= settings.FACEPASS_MAX_PHOTOS_PER_HOLDER:
        raise ReasonError(Reason.TOO_MANY_PHOTOS)
    with transaction.atomic():
        photo = EnrollmentPhoto(holder=holder)
        photo.image.save("selfie.jpg", ContentFile(image_bytes), save=False)
        photo.save()
        transaction.on_commit(lambda: _queue(photo.pk))
    return photo


def registration_photo_add(*, holder: TicketHolder, image_bytes: bytes) -> EnrollmentPhoto:
    """A selfie from the public registration page: only while the event takes registrations."""
    registration_check_open(holder)
    return enrollment_photo_create(holder=holder, image_bytes=image_bytes)


def _queue(photo_id: int) -> None:
    try:
        queues.task_send(queues.Task.ENROLL_PHOTO, photo_id)
    except QUEUE_ERRORS:
        # The photo is stored and stays pending: enrollment_requeue_lost queues it once the
        # broker is back. The attendee's upload is not lost, so it is not failed either.
        logger.error("photo %s stored but not queued: the broker is unavailable", photo_id)


# --- Claim ---------------------------------------------------------------------------------


def enrollment_photos_claim(*, photo_ids: list[int], extra: int) -> list[EnrollmentPhoto]:
    """Lock and mark as processing the given photos plus up to `extra` other waiting ones.

    A claim older than the task time limit belongs to a killed worker and is taken
    again, so no photo is ever lost.
    """
    with transaction.atomic():
        ids = _lock_waiting(photo_ids, extra)
        EnrollmentPhoto.objects.filter(pk__in=ids).update(
            status=EnrollmentPhoto.Status.PROCESSING,
            processing_started_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
        rows = EnrollmentPhoto.objects.select_related("holder__event__organization").in_bulk(ids)
    return [rows[pk] for pk in ids]


def _lock_waiting(photo_ids: list[int], extra: int) -> list[int]:
    """Lock (skipping rows locked by other batches) the given photos that still wait, then up
    to `extra` other waiting ones, oldest first; returns their ids."""
    stale_before = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    stale = Q(status=EnrollmentPhoto.Status.PROCESSING, processing_started_at__lt=stale_before)
    pending = Q(status=EnrollmentPhoto.Status.PENDING)
    # The conditions sit on the locked rows themselves, not in a subquery: when another batch
    # claims a row between this query's snapshot and its lock, PostgreSQL re-checks the row's
    # own conditions against the committed version (and drops it), but a subquery's answer
    # keeps the old snapshot, so the photo was claimed twice (issue 17: attempts = 2, no retry).
    # Ids alone, no joins: (status, created_at) serves each query and its LIMIT stops early;
    # with the holder, event and organization joined in, PostgreSQL joined and sorted every
    # waiting photo first (58 ms a claim with 9,000 photos waiting).
    lockable = EnrollmentPhoto.objects.select_for_update(skip_locked=True)
    ids = list(lockable.filter(stale | pending, pk__in=photo_ids).values_list("pk", flat=True))
    others: list[int] = []
    for waiting in (stale, pending):  # lost work first: it is the oldest
        if len(others) < extra:
            query = lockable.filter(waiting).exclude(pk__in=photo_ids).order_by("created_at")
            others += query.values_list("pk", flat=True)[: extra - len(others)]
    return ids + others


def enrollment_photos_release(*, photos: list[EnrollmentPhoto]) -> None:
    """Hand claimed photos back to the queue (a transient error interrupted the batch)."""
    EnrollmentPhoto.objects.filter(
        pk__in=[p.pk for p in photos], status=EnrollmentPhoto.Status.PROCESSING
    ).update(status=EnrollmentPhoto.Status.PENDING, processing_started_at=None)


# --- Embed and record ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """A photo refused before any face work: a business rule, not a quality verdict."""

    code: str


def _read(photo: EnrollmentPhoto) -> bytes | None:
    try:
        with photo.image.open("rb") as fh:
            return fh.read()
    except (FileNotFoundError, ValueError):
        return None


# The stages of a batch whose milliseconds a task reports (benchmarks/bulk_enrollment.py
# profiles real workers from them): the pipeline's own, and the workflow's around them.
BATCH_STAGES = (
    "claim",
    "file_read",
    "decode",
    "detect",
    "quality",
    "align",
    "embed",
    "result_write",
    "duplicate_check",
    "index_refresh",
)


def enrollment_process(*, photo_ids: list[int], batch_size: int | None = None, model=None) -> dict:
    """Process the given photos and, in the same batch, other photos still waiting.

    `model` defaults to the active one; benchmarks pass another to compare models. The answer
    says how many photos were processed, accepted and flagged, and the batch's milliseconds
    per stage (BATCH_STAGES).
    """
    batch_size = batch_size or settings.FACEPASS_ENROLL_BATCH_SIZE
    model = model or active_model()
    stage_ms: dict[str, float] = {}
    with timed(stage_ms, "claim"):
        extra = max(batch_size - len(photo_ids), 0)
        photos = enrollment_photos_claim(photo_ids=photo_ids, extra=extra)
    if not photos:
        return {"processed": 0, "accepted": 0, "flagged": 0}
    try:
        accepted = _process_claimed(photos, model, stage_ms)
    except BaseException:
        # Whatever went wrong, unfinished photos go back to the queue rather than
        # staying claimed by a batch that no longer runs.
        enrollment_photos_release(photos=photos)
        raise
    # After the batch's commit: every embedding of this batch and of batches committed before
    # is visible, and the short flag transactions cannot interleave with a batch's locks.
    with timed(stage_ms, "duplicate_check"):
        flagged = duplicate_faces_flag(accepted=accepted, model=model)
    logger.info("enrolled %d photos (%d accepted) with %s", len(photos), len(accepted), model.label)
    with timed(stage_ms, "index_refresh"):
        for event_id in {photo.holder.event_id for photo in photos}:
            # Face-only thresholds follow the number of enrolled holders: recount it now.
            enrolled_holder_count_refresh(event_id=event_id, model=model)
            event_search_index_ensure(event_id=event_id, model=model)
    return {
        "processed": len(photos),
        "accepted": len(accepted),
        "flagged": flagged,
        "model": model.label,
        "stage_ms": {stage: round(stage_ms.get(stage, 0.0), 2) for stage in BATCH_STAGES},
    }


def _process_claimed(
    photos: list[EnrollmentPhoto], model: EmbeddingModel, stage_ms: dict[str, float]
) -> list[tuple[EnrollmentPhoto, np.ndarray]]:
    """Record the batch's results; returns the accepted photos with their embeddings."""
    # Uploads check consent; this catches consent withdrawn since (never look at the face).
    enrollment_photos_refuse_without_consent(
        photos=[photo for photo in photos if not photo.holder.has_consented], model=model
    )
    consented = [photo for photo in photos if photo.holder.has_consented]
    with timed(stage_ms, "file_read"):
        images = [_read(photo) for photo in consented]
    readable = [image for image in images if image is not None]
    face_results = inference.enroll_images(model, readable) if readable else []
    for face_result in face_results:
        for stage, ms in face_result.timings_ms.items():
            stage_ms[stage] = stage_ms.get(stage, 0.0) + ms
    results = iter(face_results)
    outcomes = [
        (photo, Rejection(Reason.FILE_MISSING) if image is None else next(results))
        for photo, image in zip(consented, images, strict=True)
    ]
    # One commit per batch, not per photo: commits (fsync) dominate the database cost.
    with timed(stage_ms, "result_write"):
        recorded = enrollment_photos_record_results(outcomes=outcomes, model=model)
    return [
        (photo, np.asarray(result.embedding))
        for photo, result in outcomes
        if photo in recorded and isinstance(result, FaceResult) and result.accepted
    ]


def enrollment_photos_record_results(
    *, outcomes: list[tuple[EnrollmentPhoto, FaceResult | Rejection]], model: EmbeddingModel
) -> list[EnrollmentPhoto]:
    """Store a batch's outcomes in one transaction of a few set-based statements; returns the
    photos recorded (a photo deleted while it was being processed is left out).

    Duplicate-face flags are not set here: they come after the commit (enrollment.duplicates).
    """
    with transaction.atomic():
        # The attendee may delete a photo mid-processing. The row locks make such a delete
        # wait for this result; a photo already gone is skipped instead of failing the batch
        # (and with it the other attendees' photos).
        ids = [photo.pk for photo, _ in outcomes]
        present = set(
            EnrollmentPhoto.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        recorded, embeddings = [], []
        for photo, result in outcomes:
            if photo.pk not in present:
                logger.info("photo %s was deleted while being processed; result dropped", photo.pk)
                continue
            vector = _photo_result_apply(photo, result)
            if vector is not None:
                embeddings.append((photo, vector))
            recorded.append(photo)
        rows_update(recorded, RESULT_FIELDS)
        if embeddings:
            face_embeddings_store(rows=embeddings, model=model)
        enrollment_photos_webhook_emit(photos=recorded)
        ticket_holders_refresh_status(
            holders=[photo.holder for photo in recorded],
            enrolled_ids={photo.holder_id for photo, _ in embeddings},
        )
    return recorded


def ticket_holders_refresh_status(
    *, holders: list[TicketHolder], enrolled_ids: Collection[int] = ()
) -> None:
    """Refresh the holders' status, locking their rows in primary-key order.

    Two batches that share holders (a holder's repeated uploads) then lock them in the same
    order, so neither can wait on the other in a cycle. FOR NO KEY UPDATE, like the UPDATE it
    precedes: it does not wait on the key-share locks of other batches' embedding inserts.
    `enrolled_ids`: holders known to have an accepted photo now, set enrolled in one UPDATE.
    """
    by_pk = {holder.pk: holder for holder in holders}
    locked = TicketHolder.objects.select_for_update(no_key=True).filter(pk__in=by_pk)
    to_enroll = []
    for fresh in locked.order_by("pk"):
        if fresh.pk not in enrolled_ids:
            ticket_holder_refresh_status(holder=fresh)
        elif fresh.status not in (TicketHolder.Status.ENROLLED, TicketHolder.Status.REVOKED):
            fresh.status = TicketHolder.Status.ENROLLED
            to_enroll.append(fresh.pk)
        by_pk[fresh.pk].status = fresh.status
    if to_enroll:
        TicketHolder.objects.filter(pk__in=to_enroll).update(
            status=TicketHolder.Status.ENROLLED, updated_at=timezone.now()
        )


RESULT_FIELDS = [
    "status",
    "quality",
    "face_box",
    "processed_at",
    "processing_started_at",
    "rejection_code",
    "rejection_message",
]


def enrollment_photo_record_result(
    *, photo: EnrollmentPhoto, model: EmbeddingModel, result: FaceResult | Rejection
) -> EnrollmentPhoto | None:
    """Store one photo's outcome; None when the photo was deleted while it was processed."""
    recorded = enrollment_photos_record_results(outcomes=[(photo, result)], model=model)
    return recorded[0] if recorded else None


def _photo_result_apply(photo: EnrollmentPhoto, result: FaceResult | Rejection):
    """Set the photo's result fields; returns the embedding to store when it was accepted."""
    verdict = getattr(result, "verdict", None)
    photo.quality = {k: round(float(v), 3) for k, v in verdict.figures.items()} if verdict else {}
    face = verdict.face if verdict else None
    photo.face_box = [round(float(v), 1) for v in face.box] if face else None
    photo.processed_at = timezone.now()
    photo.processing_started_at = None
    if isinstance(result, FaceResult) and result.accepted:
        photo.status = EnrollmentPhoto.Status.ACCEPTED
        photo.rejection_code = photo.rejection_message = ""
        return np.asarray(result.embedding)
    code = result.code if isinstance(result, Rejection) else result.verdict.code or ""
    photo.status = EnrollmentPhoto.Status.REJECTED
    photo.rejection_code = code
    photo.rejection_message = reason_text(code, advice=True)[:300]
    return None


def enrollment_photos_refuse_without_consent(
    *, photos: list[EnrollmentPhoto], model: EmbeddingModel
) -> None:
    """Reject claimed photos whose holder has no consent now, unlooked-at, and delete their
    files: the upload checked consent, but it may have gone since."""
    refusal = Rejection(Reason.CONSENT_REQUIRED)
    for photo in photos:
        storage, name = photo.image.storage, photo.image.name
        with transaction.atomic():
            if enrollment_photo_record_result(photo=photo, model=model, result=refusal):
                EnrollmentPhoto.objects.filter(pk=photo.pk).update(image="")
                audit_record(
                    action=AuditEntry.Action.PHOTO_DELETE,
                    actor_label=WORKER,
                    target=photo,
                    details={"reason": Reason.CONSENT_REQUIRED.value, "file_only": True},
                )
                files_delete_on_commit(storage, [name])


# --- Re-embedding after a model change -----------------------------------------------------


def reembed_batch(*, model, photos: list[EnrollmentPhoto]) -> int:
    """Embed already accepted photos with `model`; returns how many got an embedding."""
    done = 0
    for photo in photos:
        if not photo.holder.has_consented:
            continue  # never (re-)embed a face without consent
        image = _read(photo)
        if image is None:
            logger.warning("photo %s has no file; skipped", photo.pk)
            continue
        result = inference.embed_largest_face(model, image)
        if result.embedding is None:
            logger.warning("photo %s: %s under %s", photo.pk, result.verdict.code, model.label)
            continue
        face_embedding_store(photo=photo, model=model, vector=np.asarray(result.embedding))
        done += 1
    for event_id in {photo.holder.event_id for photo in photos}:
        enrolled_holder_count_refresh(event_id=event_id, model=model)
        event_search_index_ensure(event_id=event_id, model=model)
    return done


def reembed_pending(*, batch_size: int = 64, progress=None) -> int:
    """Embed every accepted photo lacking an embedding by the active model. Resumable:
    each batch is committed, and a rerun only looks at what is still missing."""
    model = active_model()
    total, after_pk = 0, 0
    while True:
        batch = list(photos_missing_embedding(model).filter(pk__gt=after_pk)[:batch_size])
        if not batch:
            return total
        total += reembed_batch(model=model, photos=batch)
        after_pk = batch[-1].pk
        if progress is not None:
            progress(len(batch))


# --- Lost tasks ----------------------------------------------------------------------------


def enrollment_requeue_lost(*, limit: int = 1000) -> list[int]:
    """Queue again the photos whose task is gone; returns their ids.

    A claim older than the hard time limit belongs to a killed worker (a killed pool process's
    task is redelivered at once, finds the photo claimed and leaves it). A photo pending for
    FACEPASS_ENROLL_REQUEUE_PENDING_AFTER_S while nothing waits in the recognition queue was
    uploaded while its task could not be queued; with a backlog it is only waiting its turn.
    A duplicate task is harmless: the claim lets one batch take a photo.
    """
    now = timezone.now()
    pending_before = None
    if queues.queue_length(queues.RECOGNITION) == 0:
        pending_before = now - timedelta(seconds=settings.FACEPASS_ENROLL_REQUEUE_PENDING_AFTER_S)
    lost = photos_with_lost_tasks(
        processing_before=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
        pending_before=pending_before,
    )
    photo_ids = list(lost.values_list("pk", flat=True)[:limit])
    for photo_id in photo_ids:
        queues.task_send(queues.Task.ENROLL_PHOTO, photo_id)
    if photo_ids:
        logger.warning("queued %d enrollment photos again (lost tasks)", len(photo_ids))
    return photo_ids
