"""Celery tasks. Thin: they take ids, call services, and retry transient failures."""

import redis
from celery import shared_task
from django.db import InterfaceError, OperationalError

from recognition.enrollment import enrollment_process, enrollment_requeue_lost

TRANSIENT = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
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
    name="recognition.tasks.enrollment_requeue_lost",
    acks_late=False,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    max_retries=3,
)
def enrollment_requeue_lost_task() -> dict:
    """Celery beat, every minute: photos whose task was lost are queued again."""
    return {"queued": enrollment_requeue_lost()}


@shared_task(acks_late=False, ignore_result=False, soft_time_limit=10, time_limit=15)
def gate_embed_frames(frames_b64: list[str], model_id: int) -> list[dict]:
    """Embed the largest face of each gate frame. Runs on the `gate` queue only.

    Not acked late: a gate request is answered within seconds or not at all, so a
    redelivered frame minutes later would help nobody.
    """
    from recognition.gate_worker import embed_frames

    return embed_frames(frames_b64, model_id)


# An index over 150k embeddings takes minutes (242 s measured with 64 MB of
# maintenance_work_mem): the global 120/180 s limits would kill it. Not acked late: a run longer
# than the broker's visibility timeout would be redelivered and build twice.
@shared_task(
    acks_late=False,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=3600,
    time_limit=3700,
)
def build_event_search_index(index_id: int) -> dict:
    """Build one event's HNSW index (default queue: minutes of work, never on the gate)."""
    from recognition.search_index import event_search_index_build

    index = event_search_index_build(index_id=index_id)
    return {"index": index.index_name, "rows": index.rows_when_built}
