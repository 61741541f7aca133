"""Celery tasks of enrollment. Thin: they take ids, call the workflow, retry transient failures."""

from celery import shared_task

from common.queues import Task
from common.unavailable import TRANSIENT_ERRORS
from enrollment.workflow import enrollment_process, enrollment_requeue_lost


@shared_task(
    name=Task.ENROLL_PHOTO,
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=8,
)
def enroll_photo(self, photo_id: int) -> dict:
    """Enroll one uploaded photo, batching in other waiting photos.

    When another batch already took this photo, there is nothing left to do.
    """
    return enrollment_process(photo_ids=[photo_id])


@shared_task(
    name=Task.ENROLLMENT_REQUEUE_LOST,
    acks_late=False,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    max_retries=3,
)
def enrollment_requeue_lost_task() -> dict:
    """Celery beat, every minute: photos whose task was lost are queued again."""
    return {"queued": enrollment_requeue_lost()}
