"""Enrollment batches: claim waiting photos, run the pipeline once, record each outcome."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from attendees.models import EnrollmentPhoto
from recognition import inference
from recognition.ml.runtime.pipeline import FaceResult
from recognition.ml.runtime.quality import QualityVerdict
from recognition.search_index import event_search_index_ensure
from recognition.selectors import active_model, photos_missing_embedding, photos_with_lost_tasks
from recognition.services import (
    enrollment_photo_record_result,
    enrollment_photos_claim,
    enrollment_photos_refuse_without_consent,
    enrollment_photos_release,
    face_embedding_store,
)

logger = logging.getLogger(__name__)
MISSING_FILE = FaceResult(
    QualityVerdict(False, "file_missing", "The photo file is gone; please upload it again."), None
)


def _read(photo: EnrollmentPhoto) -> bytes | None:
    try:
        with photo.image.open("rb") as fh:
            return fh.read()
    except (FileNotFoundError, ValueError):
        return None


def enrollment_process(*, photo_ids: list[int], batch_size: int | None = None, model=None) -> dict:
    """Process the given photos and, in the same batch, other photos still waiting.

    `model` defaults to the active one; benchmarks pass another to compare models.
    """
    batch_size = batch_size or settings.FACEPASS_ENROLL_BATCH_SIZE
    model = model or active_model()
    photos = enrollment_photos_claim(photo_ids=photo_ids, extra=max(batch_size - len(photo_ids), 0))
    if not photos:
        return {"processed": 0, "accepted": 0}
    try:
        # Uploads check consent; this catches consent withdrawn since (never look at the face).
        refused = [photo for photo in photos if not photo.holder.has_consented]
        enrollment_photos_refuse_without_consent(photos=refused, model=model)
        consented = [photo for photo in photos if photo.holder.has_consented]
        images = [_read(photo) for photo in consented]
        readable = [image for image in images if image is not None]
        results = iter(inference.enroll_images(model, readable) if readable else ())
        accepted = 0
        # One commit per batch, not per photo: commits (fsync) dominate the database cost.
        with transaction.atomic():
            for photo, image in zip(consented, images, strict=True):
                result = MISSING_FILE if image is None else next(results)
                recorded = enrollment_photo_record_result(photo=photo, model=model, result=result)
                accepted += bool(recorded and result.accepted)
    except BaseException:
        # Whatever went wrong, unfinished photos go back to the queue rather than
        # staying claimed by a batch that no longer runs.
        enrollment_photos_release(photos=photos)
        raise
    logger.info("enrolled %d photos (%d accepted) with %s", len(photos), accepted, model.label)
    for event_id in {photo.holder.event_id for photo in photos}:
        event_search_index_ensure(event_id=event_id, model=model)
    return {"processed": len(photos), "accepted": accepted, "model": model.label}


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
        face_embedding_store(photo=photo, model=model, vector=result.embedding)
        done += 1
    for event_id in {photo.holder.event_id for photo in photos}:
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


def queue_length(queue: str) -> int:
    """Messages waiting in a broker queue (0 when the queue does not exist yet)."""
    from kombu.exceptions import ChannelError

    from facepass_site.celery import app

    with app.connection_for_read() as connection:
        try:
            return connection.default_channel.queue_declare(queue, passive=True).message_count
        except ChannelError:
            return 0


def enrollment_requeue_lost(*, limit: int = 1000) -> list[int]:
    """Queue again the photos whose task is gone; returns their ids.

    A claim older than the hard time limit belongs to a killed worker (a killed pool process's
    task is redelivered at once, finds the photo claimed and leaves it). A photo pending for
    FACEPASS_ENROLL_REQUEUE_PENDING_AFTER_S while nothing waits in the recognition queue was
    uploaded while its task could not be queued; with a backlog it is only waiting its turn.
    A duplicate task is harmless: the claim lets one batch take a photo.
    """
    from recognition.tasks import enroll_photo

    now = timezone.now()
    pending_before = None
    if queue_length("recognition") == 0:
        pending_before = now - timedelta(seconds=settings.FACEPASS_ENROLL_REQUEUE_PENDING_AFTER_S)
    lost = photos_with_lost_tasks(
        processing_before=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
        pending_before=pending_before,
    )
    photo_ids = list(lost.values_list("pk", flat=True)[:limit])
    for photo_id in photo_ids:
        enroll_photo.delay(photo_id)
    if photo_ids:
        logger.warning("queued %d enrollment photos again (lost tasks)", len(photo_ids))
    return photo_ids
