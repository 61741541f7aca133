"""Face-only galleries held in memory: exact 1:N search, fresh to the last commit.

Why: at 100,000 holders pgvector's HNSW index needs ef_search 800 (about 18 ms a search) to
return every holder exact search would, and exact search in PostgreSQL takes 46 ms; one
matrix product over the event's vectors in NumPy is exact and takes about 4 ms
(benchmarks/README.md, "Face-only search in memory"). PostgreSQL stays the record; a web
process keeps a copy of the galleries its face-only gates search.

Freshness: every write or deletion of embeddings is published, after its commit, on the
event's change feed in Redis (common.gallery_feed); before each search the process reads the
feed's entries it has not seen (one round trip) and fetches those rows by primary key, or
loads the event again when the feed asks or was lost. A decision re-reads its candidates'
templates and status from PostgreSQL, so a face deleted by a path that does not publish
decides nothing; it leaves memory when a decision finds it gone (`gallery_forget_holders`),
and every copy is loaded again after FACEPASS_GALLERY_MAX_AGE_SECONDS whatever happened.

Only outside a transaction: a caller inside one may see rows it has not committed, which no
shared copy can hold; it gets None and searches PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import psycopg
import redis
from django.conf import settings
from django.db import connection

from common.gallery_feed import KEY_TTL_SECONDS, RELOAD, epoch_key, feed_client, list_key
from recognition.models import EMBEDDING_DIMENSIONS, FaceEmbedding

logger = logging.getLogger(__name__)

# -- the copy in memory -----------------------------------------------------------------------


@dataclass
class Gallery:
    """One event's faces by one model: row ids, holders, photos and unit vectors."""

    event_id: int
    model_id: int
    ids: np.ndarray
    holder_ids: np.ndarray
    photo_ids: np.ndarray
    vectors: np.ndarray
    epoch: str
    position: int  # entries of the event's change list already applied
    loaded_at: float

    @property
    def rows(self) -> int:
        return len(self.ids)

    def search(self, probes: np.ndarray, limit: int) -> list[list[tuple[int, int, float]]]:
        """(holder, photo, cosine similarity) of the `limit` most similar holders per probe,
        each holder by their best photo, most similar first; exact."""
        probes = _unit(np.atleast_2d(np.asarray(probes, np.float32)))
        if not self.rows:
            return [[] for _ in probes]
        scores = probes @ self.vectors.T
        return [self._best_holders(row, limit) for row in scores]

    def _best_holders(self, scores: np.ndarray, limit: int) -> list[tuple[int, int, float]]:
        # Enough rows that `limit` distinct holders are among them (a holder may have several
        # photos); all rows when the holders have many photos each.
        take = min(self.rows, limit * 5)
        while True:
            top = np.argpartition(-scores, take - 1)[:take] if take < self.rows else np.arange(take)
            top = top[np.argsort(-scores[top], kind="stable")]
            best: dict[int, tuple[int, int, float]] = {}
            for row in top:
                holder = int(self.holder_ids[row])
                if holder not in best:
                    best[holder] = (holder, int(self.photo_ids[row]), float(scores[row]))
            if len(best) >= limit or take == self.rows:
                return list(best.values())[:limit]
            take = min(self.rows, take * 4)

    def merge(self, asked: list[int], rows: list[tuple]) -> None:
        """Apply the rows fetched for the ids `asked`: (id, event, model, holder, photo,
        vector). An id's old row goes; its new one comes in if it is still of this event and
        model (gone, or of another event or model now: it stays out)."""
        keep = [r for r in rows if r[1] == self.event_id and r[2] == self.model_id]
        self._keep(~np.isin(self.ids, asked))
        if keep:
            self.ids = np.concatenate([self.ids, [r[0] for r in keep]]).astype(np.int64)
            self.holder_ids = np.concatenate([self.holder_ids, [r[3] for r in keep]]).astype(
                np.int64
            )
            self.photo_ids = np.concatenate([self.photo_ids, [r[4] for r in keep]]).astype(np.int64)
            added = _unit(np.stack([np.asarray(r[5], np.float32) for r in keep]))
            self.vectors = np.concatenate([self.vectors, added])

    def drop_holders(self, holder_ids: Iterable[int]) -> None:
        self._keep(~np.isin(self.holder_ids, list(holder_ids)))

    def _keep(self, mask: np.ndarray) -> None:
        if mask.all():
            return
        self.ids, self.holder_ids = self.ids[mask], self.holder_ids[mask]
        self.photo_ids, self.vectors = self.photo_ids[mask], self.vectors[mask]


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1)).astype(np.float32)


# -- loading and following --------------------------------------------------------------------


def _row_dtype(dimensions: int) -> np.dtype:
    """One row as _load_rows packs it: three bigints, then pgvector's binary vector (its
    dimension, a spare int16, the floats), all big-endian."""
    return np.dtype(
        [
            ("id", ">i8"),
            ("holder", ">i8"),
            ("photo", ">i8"),
            ("dimensions", ">i2"),
            ("unused", ">i2"),
            ("vector", ">f4", (dimensions,)),
        ]
    )


def _load_rows(event_id: int, model_id: int, limit: int) -> tuple[np.ndarray, ...]:
    """The event's embeddings by the model, at most `limit` + 1 (one more tells it is too
    big): each row packed by PostgreSQL into one binary value of fixed size, read by NumPy in
    one step (vectors parsed from text, or COPY read block by block, take 0.5-1 s at 100,000)."""
    table = FaceEmbedding._meta.db_table
    sql = (  # integers formatted by us: nothing user-supplied
        "SELECT int8send(id) || int8send(holder_id) || int8send(photo_id) "
        f"|| vector_send(vector) FROM {table} "
        f"WHERE event_id = {int(event_id)} AND model_id = {int(model_id)} LIMIT {int(limit) + 1}"
    )
    connection.ensure_connection()
    # A server-binding cursor: Django's client-side cursors cannot ask for binary results,
    # and hex text doubles what PostgreSQL writes and the driver decodes.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, binary=True)
        packed = b"".join(row[0] for row in cursor.fetchall())
    rows = np.frombuffer(packed, _row_dtype(EMBEDDING_DIMENSIONS))
    return (
        rows["id"].astype(np.int64),
        rows["holder"].astype(np.int64),
        rows["photo"].astype(np.int64),
        _unit(rows["vector"].astype(np.float32).reshape(-1, EMBEDDING_DIMENSIONS)),
    )


def _epoch_and_position(client: redis.Redis, event_id: int) -> tuple[str, int]:
    """The event's epoch (made now if there is none) and its list's length, read together."""
    pipe = client.pipeline(transaction=True)
    pipe.set(epoch_key(event_id), uuid.uuid4().hex, nx=True, ex=KEY_TTL_SECONDS)
    pipe.get(epoch_key(event_id))
    pipe.llen(list_key(event_id))
    _, epoch, length = pipe.execute()
    return epoch.decode(), int(length)


def _load(client: redis.Redis, event_id: int, model_id: int) -> Gallery:
    # The position is read before the rows: a write committed in between is in the rows and
    # in the list after the position, and applying it twice changes nothing.
    epoch, position = _epoch_and_position(client, event_id)
    limit = settings.FACEPASS_GALLERY_MEMORY_ROWS
    ids, holder_ids, photo_ids, vectors = _load_rows(event_id, model_id, limit)
    return Gallery(
        event_id, model_id, ids, holder_ids, photo_ids, vectors, epoch, position, time.monotonic()
    )


def _fetch(ids: list[int]) -> list[tuple]:
    rows = FaceEmbedding.objects.filter(pk__in=ids).values_list(
        "pk", "event_id", "model_id", "holder_id", "photo_id", "vector"
    )
    return list(rows)


def _follow(client: redis.Redis, gallery: Gallery) -> Gallery:
    """The gallery brought up to the last published change (a new one when it must reload)."""
    if time.monotonic() - gallery.loaded_at > settings.FACEPASS_GALLERY_MAX_AGE_SECONDS:
        return _load(client, gallery.event_id, gallery.model_id)
    pipe = client.pipeline(transaction=True)
    pipe.get(epoch_key(gallery.event_id))
    pipe.lrange(list_key(gallery.event_id), gallery.position, -1)
    epoch, entries = pipe.execute()
    entries = [e.decode() for e in entries]
    if epoch is None or epoch.decode() != gallery.epoch or RELOAD in entries:
        return _load(client, gallery.event_id, gallery.model_id)
    if entries:
        asked = sorted({int(i) for entry in entries for i in entry.split(",")})
        gallery.merge(asked, _fetch(asked))
        gallery.position += len(entries)
    return gallery


class Galleries:
    """The galleries one process holds, least recently searched dropped first beyond
    FACEPASS_GALLERY_MEMORY_ROWS rows in all."""

    def __init__(self) -> None:
        self._held: OrderedDict[tuple[int, int], Gallery] = OrderedDict()
        self._too_big: dict[tuple[int, int], float] = {}  # when it was found too big
        self._lock = threading.Lock()

    def search(
        self, event_id: int, model_id: int, probes: np.ndarray, limit: int
    ) -> list[list[tuple[int, int, float]]] | None:
        limit_rows = settings.FACEPASS_GALLERY_MEMORY_ROWS
        if limit_rows <= 0 or connection.in_atomic_block:
            return None
        with self._lock:  # threaded servers: one refresh, and no search of a half-merged copy
            gallery = self._current((event_id, model_id), limit_rows)
            return None if gallery is None else gallery.search(probes, limit)

    def _current(self, key: tuple[int, int], limit: int) -> Gallery | None:
        event_id, model_id = key
        found_too_big = self._too_big.get(key)
        if found_too_big is not None:
            if time.monotonic() - found_too_big < settings.FACEPASS_GALLERY_MAX_AGE_SECONDS:
                return None
            del self._too_big[key]
        try:
            client = feed_client()
            held = self._held.pop(key, None)
            gallery = _follow(client, held) if held else _load(client, event_id, model_id)
        except redis.RedisError:
            logger.warning("Redis unreachable: event %s searched in PostgreSQL", event_id)
            return None
        if gallery.rows > limit:  # too big for this process: PostgreSQL's index answers
            self._too_big[key] = time.monotonic()
            return None
        self._held[key] = gallery
        while sum(g.rows for g in self._held.values()) > limit:
            self._held.popitem(last=False)  # least recently searched first
        return gallery

    def forget_holders(self, event_id: int, model_id: int, holder_ids: Iterable[int]) -> None:
        with self._lock:
            gallery = self._held.get((event_id, model_id))
            if gallery is not None:
                gallery.drop_holders(holder_ids)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._too_big.clear()


GALLERIES = Galleries()


def gallery_search(
    *, event_id: int, model_id: int, probes: np.ndarray, limit: int
) -> list[list[tuple[int, int, float]]] | None:
    """Exact search of the event's gallery in memory; None where PostgreSQL must answer
    (inside a transaction, Redis down, a gallery above this process's memory limit)."""
    return GALLERIES.search(event_id, model_id, probes, limit)


def gallery_forget_holders(*, event_id: int, model_id: int, holder_ids: Iterable[int]) -> None:
    """Holders a decision found gone from PostgreSQL leave this process's copy now."""
    GALLERIES.forget_holders(event_id, model_id, holder_ids)
