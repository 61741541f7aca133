"""Celery tasks of the face workers. Thin: ids in, services do the work, transient failures
are retried."""

from celery import shared_task

from common.queues import Task
from common.unavailable import TRANSIENT_ERRORS
from recognition.gate_worker import embed_frames
from recognition.search_index import event_search_index_build


@shared_task(
    name=Task.GATE_EMBED_FRAMES,
    acks_late=False,
    ignore_result=False,
    soft_time_limit=10,
    time_limit=15,
)
def gate_embed_frames(frames_b64: list[str], model_id: int, liveness: dict | None = None) -> dict:
    """Embed the largest face of each gate frame and judge the burst's liveness when asked
    (recognition.frames.GateAnswer as JSON). Runs on the `gate` queue only.

    Not acked late: a gate request is answered within seconds or not at all, so a
    redelivered frame minutes later would help nobody.
    """
    return embed_frames(frames_b64, model_id, liveness)


# An index over 150k embeddings takes minutes (242 s measured with 64 MB of
# maintenance_work_mem): the global 120/180 s limits would kill it. Not acked late: a run longer
# than the broker's visibility timeout would be redelivered and build twice.
@shared_task(
    name=Task.BUILD_SEARCH_INDEX,
    acks_late=False,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=3600,
    time_limit=3700,
)
def build_event_search_index(index_id: int) -> dict:
    """Build one event's HNSW index (default queue: minutes of work, never on the gate)."""
    index = event_search_index_build(index_id=index_id)
    return {"index": index.index_name, "rows": index.rows_when_built}
