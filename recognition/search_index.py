"""Per-event partial HNSW indexes: exact search for small events, HNSW for large ones.

A gate search is always "the nearest faces among this event's holders, by the active model".
Up to FACEPASS_SEARCH_INDEX_MIN_ROWS embeddings an exact scan through the (model, event) btree is
fast and needs no index upkeep. Beyond that an event gets its own HNSW index whose WHERE clause
is exactly the search's filter, so the index holds only candidates and returns a full top-k
(a table-wide HNSW index filtered afterwards does not). Build and recall figures: benchmarks/.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common import queues
from recognition.models import EmbeddingModel, EventSearchIndex, FaceEmbedding

logger = logging.getLogger(__name__)


def index_name_for(event_id: int, model_id: int) -> str:
    return f"fe_hnsw_e{int(event_id)}_m{int(model_id)}"


def event_search_index_ensure(*, event_id: int, model: EmbeddingModel) -> EventSearchIndex | None:
    """Queue an index build once the event outgrows exact search; None while it has not."""
    existing = EventSearchIndex.objects.filter(event_id=event_id, model=model).first()
    if existing is not None:
        return existing
    rows = FaceEmbedding.objects.filter(event_id=event_id, model=model).count()
    if rows < settings.FACEPASS_SEARCH_INDEX_MIN_ROWS:
        return None
    index, created = EventSearchIndex.objects.get_or_create(
        event_id=event_id,
        model=model,
        defaults={"index_name": index_name_for(event_id, model.pk)},
    )
    if created:
        transaction.on_commit(lambda: _queue_build(index.pk))
    return index


def _queue_build(index_id: int) -> None:
    queues.task_send(queues.Task.BUILD_SEARCH_INDEX, index_id)


def event_search_index_build(*, index_id: int) -> EventSearchIndex:
    """CREATE INDEX CONCURRENTLY: enrollment keeps writing while it builds (minutes at 100k)."""
    index = EventSearchIndex.objects.get(pk=index_id)
    if connection.in_atomic_block:
        raise RuntimeError("an index is built CONCURRENTLY, outside any transaction")
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            # Per build, not server-wide: a graph that fits in this memory builds several
            # times faster; RESET so the pooled connection does not keep it.
            cursor.execute("SET maintenance_work_mem = %s", [settings.FACEPASS_INDEX_BUILD_MEMORY])
            try:
                cursor.execute(_create_sql(index))
            finally:
                cursor.execute("RESET maintenance_work_mem")
    except Exception as exc:  # a failed concurrent build leaves an INVALID index behind
        _drop(index.index_name)
        index.status, index.error = EventSearchIndex.Status.FAILED, str(exc)[:300]
        index.save(update_fields=["status", "error"])
        logger.exception("building %s failed", index.index_name)
        raise
    index.status = EventSearchIndex.Status.READY
    index.rows_when_built = FaceEmbedding.objects.filter(
        event_id=index.event_id, model_id=index.model_id
    ).count()
    index.build_seconds = round(time.perf_counter() - started, 2)
    index.built_at = timezone.now()
    index.save(update_fields=["status", "rows_when_built", "build_seconds", "built_at"])
    logger.info("built %s over %d rows", index.index_name, index.rows_when_built)
    return index


def _create_sql(index: EventSearchIndex) -> str:
    # Identifiers and ids are integers we formatted ourselves: nothing user-supplied.
    table = FaceEmbedding._meta.db_table
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index.index_name} ON {table} "
        f"USING hnsw (vector vector_cosine_ops) "
        f"WITH (m = {int(settings.FACEPASS_HNSW_M)}, "
        f"ef_construction = {int(settings.FACEPASS_HNSW_EF_CONSTRUCTION)}) "
        f"WHERE event_id = {int(index.event_id)} AND model_id = {int(index.model_id)}"
    )


def _drop(index_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index_name}")


def event_search_index_drop(*, index: EventSearchIndex) -> None:
    """Drop the index (e.g. the event's biometric data is gone, or its model is retired)."""
    _drop(index.index_name)
    index.delete()
