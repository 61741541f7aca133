"""Reads for models and embeddings. Every search is confined to one model version."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from pgvector import Vector

from events.models import Event
from recognition.gallery import gallery_search
from recognition.ml.runtime.artifacts import threshold_for
from recognition.ml.runtime.fusion import template
from recognition.ml.runtime.openset import OpenSetCalibration, one_to_one_threshold
from recognition.models import EmbeddingModel, FaceEmbedding


class NoActiveModel(LookupError):
    pass


def active_model() -> EmbeddingModel:
    model = EmbeddingModel.objects.filter(is_active=True).first()
    if model is None:
        raise NoActiveModel(
            "No face model is active. Run `manage.py ensure_default_model` or `activate_model`."
        )
    return model


def model_threshold(model: EmbeddingModel, far: str) -> float:
    """Cosine similarity one photo must reach against one other for the given false-accept
    rate: from the model's open-set calibration when it has one (the same fit that sets the
    thresholds of templates, frames and galleries in checkins.gate), else from its measured
    table (the strictest measured one when that rate was not measured)."""
    calibration = model_calibration(model)
    if calibration is not None:
        return one_to_one_threshold(calibration, float(far)).score
    if not model.thresholds:
        raise NoActiveModel(f"Model {model.label} has no threshold table; run evaluate first.")
    metadata = {"thresholds": model.thresholds}
    return threshold_for(metadata, float(far), strictest_if_missing=True)


@functools.lru_cache(maxsize=8)
def _calibration(model_id: int, block_json: str) -> OpenSetCalibration:
    return OpenSetCalibration.from_block(json.loads(block_json))


def model_calibration(model: EmbeddingModel) -> OpenSetCalibration | None:
    """The model's open-set calibration, parsed once per process; None when uncalibrated."""
    if not model.openset:
        return None
    # Keyed on the block's text, so a recalibrated row is parsed again; the key is kept on the
    # instance: one face-only decision asks for it three times, 0.4 ms of json.dumps each.
    key = model.__dict__.get("_openset_key")
    if key is None or key[0] is not model.openset:
        key = (model.openset, json.dumps(model.openset, sort_keys=True))
        model.__dict__["_openset_key"] = key
    return _calibration(model.pk, key[1])


ENROLLED_COUNT_SECONDS = 60


def _enrolled_key(event_id: int, model_id: int) -> str:
    return f"enrolled-holders:{int(model_id)}:{int(event_id)}"


def enrolled_holder_count(*, event_id: int, model: EmbeddingModel) -> int:
    """How many holders of the event have a face enrolled with this model: the N that sets
    face-only thresholds. Cached for a minute and refreshed by every enrollment batch, so a
    growing event never leaves a gate with a threshold for fewer holders than it has."""
    key = _enrolled_key(event_id, model.pk)
    count = cache.get(key)
    if count is None:
        count = (
            FaceEmbedding.objects.filter(event_id=event_id, model=model)
            .values("holder_id")
            .distinct()
            .count()
        )
        cache.set(key, count, ENROLLED_COUNT_SECONDS)
    return int(count)


def enrolled_holder_count_refresh(*, event_id: int, model: EmbeddingModel) -> None:
    cache.delete(_enrolled_key(event_id, model.pk))


@dataclass(frozen=True)
class HolderTemplate:
    """A holder's fused face: the unit mean of their enrolled embeddings (ml.runtime.fusion)."""

    holder_id: int
    vector: np.ndarray
    photos: int


def holder_templates(*, holder_ids, model: EmbeddingModel) -> dict[int, HolderTemplate]:
    """Templates of the given holders (those with at least one embedding by this model)."""
    vectors: dict[int, list] = {}
    rows = FaceEmbedding.objects.filter(model=model, holder_id__in=list(holder_ids))
    for holder_id, vector in rows.values_list("holder_id", "vector"):
        vectors.setdefault(holder_id, []).append(np.asarray(vector, np.float32))
    return {
        holder_id: HolderTemplate(holder_id, template(np.stack(photos)), len(photos))
        for holder_id, photos in vectors.items()
    }


@dataclass(frozen=True)
class HolderMatch:
    holder_id: int
    photo_id: int
    similarity: float


def nearest_holders(
    *,
    event: Event | int,
    model: EmbeddingModel,
    vector: np.ndarray,
    limit: int = 2,
    exclude_holder_id: int | None = None,
    exact: bool = False,
) -> list[HolderMatch]:
    """Best match per holder within one event, most similar first.

    Exact through the (model, event) btree, or through the event's own HNSW index once it has
    a valid one (recognition.search_index): PostgreSQL's planner picks the partial index of
    exactly this filter, and never one still building. exact=True forces exact search
    (benchmarks compare both).
    """
    event_id = event if isinstance(event, int) else event.pk
    probes = [(vector, exclude_holder_id)]
    return nearest_holders_each(
        event_id=event_id, model=model, probes=probes, limit=limit, exact=exact
    )[0]


def gate_nearest_holders(
    *, event_id: int, model: EmbeddingModel, vectors: np.ndarray, limit: int
) -> list[list[HolderMatch]]:
    """nearest_holders for each of an attempt's frames: exact, from the event's gallery held
    in this process (recognition.gallery: about 4 ms at 100,000 faces, where HNSW takes 18),
    or, where there is none, from PostgreSQL in one statement (its HNSW index when built)."""
    found = gallery_search(event_id=event_id, model_id=model.pk, probes=vectors, limit=limit)
    if found is None:
        probes = [(vector, None) for vector in vectors]
        return nearest_holders_each(event_id=event_id, model=model, probes=probes, limit=limit)
    return [[HolderMatch(*match) for match in matches] for matches in found]


def nearest_holders_each(
    *,
    event_id: int,
    model: EmbeddingModel,
    probes: Sequence[tuple[np.ndarray, int | None]],
    limit: int = 2,
    exact: bool = False,
    min_similarity: float | None = None,
) -> list[list[HolderMatch]]:
    """nearest_holders for several (vector, holder to exclude) probes of one event, in one
    transaction: an enrollment batch's duplicate check pays the index lookup and the search
    settings once, not once per photo. With `min_similarity`, only matches at least that
    similar: an exact search then sorts the few rows that pass instead of every row of the
    event for each probe (the duplicate check's cost halved at 10,000 faces, issue 17)."""
    # No look-up of the index's row first: the planner knows whether the index is there and
    # valid, and the look-up was a sixth of a face-only gate's search (1 of 6 ms at 10,000).
    with transaction.atomic(), connection.cursor() as cursor:
        if exact:  # no HNSW for this query, whatever the planner would like
            cursor.execute("SET LOCAL enable_indexscan = off")
        else:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [int(settings.FACEPASS_HNSW_EF_SEARCH)])
        # Over-fetch rows: a holder with several photos fills several of them.
        max_distance = None if min_similarity is None else 1.0 - min_similarity
        cursor.execute(*nearest_rows_sql(event_id, model.pk, probes, limit * 5, max_distance))
        rows = cursor.fetchall()
    found: list[dict[int, HolderMatch]] = [{} for _ in probes]
    for ordinal, holder_id, photo_id, distance in rows:  # nearest first within each probe
        best = found[ordinal - 1]
        if holder_id not in best:  # a holder may have several photos: keep each one's best
            best[holder_id] = HolderMatch(holder_id, photo_id, 1.0 - float(distance))
    return [list(best.values())[:limit] for best in found]


def nearest_rows_sql(
    event_id: int,
    model_id: int,
    probes: Sequence[tuple[np.ndarray, int | None]],
    rows: int,
    max_distance: float | None = None,
) -> tuple[str, list]:
    """One statement for every probe: (probe ordinal, holder, photo, cosine distance), the
    `rows` nearest embeddings of the event per probe (within `max_distance` when given),
    nearest first. One round trip instead of one per probe (an enrollment batch's duplicate
    check has 16); the event and model stay literals, so the planner can pick the event's own
    partial HNSW index."""
    table = FaceEmbedding._meta.db_table
    within = "" if max_distance is None else "AND (e.vector <=> p.vector) <= %s "
    sql = (
        "SELECT p.ordinal, m.holder_id, m.photo_id, m.distance "
        "FROM unnest(%s::vector[], %s::bigint[]) WITH ORDINALITY AS p(vector, excluded, ordinal) "
        "CROSS JOIN LATERAL ("
        f"SELECT e.holder_id, e.photo_id, e.vector <=> p.vector AS distance FROM {table} e "
        f"WHERE e.event_id = {int(event_id)} AND e.model_id = {int(model_id)} "
        f"AND e.holder_id IS DISTINCT FROM p.excluded {within}ORDER BY distance LIMIT %s"
        ") AS m ORDER BY p.ordinal, m.distance"
    )
    vectors = [Vector(np.asarray(vector, np.float32)).to_text() for vector, _ in probes]
    params: list = [vectors, [excluded for _, excluded in probes]]
    if max_distance is not None:
        params.append(float(max_distance))
    return sql, [*params, int(rows)]
