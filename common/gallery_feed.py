"""The feed of face-embedding changes per event, in Redis: what web processes holding an event's
faces in memory (recognition.gallery) read before each face-only search.

Whoever writes or deletes embeddings appends, once its transaction commits, the ids it touched
to the event's list; a reader fetches those ids from PostgreSQL (a row that is gone leaves its
copy). Redis keeps the order of appends, so a transaction that commits late is still read. The
epoch key names one life of the list: a reader that finds another (Redis restarted, the list
was trimmed) loads the event's faces again, as it does on a RELOAD entry.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

import redis
from django.conf import settings
from django.db import transaction

from common.workers import redis_client

logger = logging.getLogger(__name__)

KEY_PREFIX = "facepass:gallery:"
RELOAD = "*"  # a list entry that asks every reader to load the event's faces again
# A list longer than this is dropped with its epoch: every reader loads once more, and the list
# of an event that enrolls all day stays small.
MAX_ENTRIES = 20_000
# More ids than this in one change: a reload costs readers less than fetching them one by one.
MAX_IDS_PER_ENTRY = 2_000
KEY_TTL_SECONDS = 3 * 24 * 3600


def list_key(event_id: int) -> str:
    return f"{KEY_PREFIX}{int(event_id)}"


def epoch_key(event_id: int) -> str:
    return f"{KEY_PREFIX}{int(event_id)}:epoch"


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis_client()


def feed_client() -> redis.Redis:
    """One connection pool per process (redis-py reconnects after a fork), not one per call."""
    return _client(settings.REDIS_URL)


def embeddings_changed_on_commit(changes: Iterable[tuple[int, int]]) -> None:
    """Publish (event, embedding id) pairs written or deleted in the current transaction once
    it commits; nothing if it rolls back."""
    by_event: dict[int, list[int]] = {}
    for event_id, embedding_id in changes:
        by_event.setdefault(int(event_id), []).append(int(embedding_id))
    if by_event:
        transaction.on_commit(lambda: embeddings_changed_publish(by_event))


def embeddings_changed_publish(by_event: dict[int, list[int]]) -> None:
    """Append each event's changed ids (or RELOAD, for very many). A Redis that cannot be
    reached is logged, not raised: the rows are committed, and readers load every event's
    faces again after FACEPASS_GALLERY_MAX_AGE_SECONDS."""
    entries = {
        event_id: RELOAD if len(ids) > MAX_IDS_PER_ENTRY else ",".join(map(str, ids))
        for event_id, ids in by_event.items()
        if ids
    }
    if not entries:
        return
    try:
        client = feed_client()
        pipe = client.pipeline(transaction=True)
        for event_id, entry in entries.items():
            pipe.rpush(list_key(event_id), entry)
            pipe.expire(list_key(event_id), KEY_TTL_SECONDS)
        lengths = pipe.execute()[::2]
        too_long = [e for e, n in zip(entries, lengths, strict=True) if int(n) > MAX_ENTRIES]
        if too_long:
            client.delete(*[key for e in too_long for key in (list_key(e), epoch_key(e))])
    except redis.RedisError:
        logger.warning("face changes of events %s not published", sorted(entries))
