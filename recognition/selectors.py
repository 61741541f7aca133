"""Reads for models and embeddings. Every search is confined to one model version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from pgvector.django import CosineDistance

from events.models import Event
from recognition.ml.runtime.artifacts import threshold_for
from recognition.models import EmbeddingModel, FaceEmbedding
from recognition.search_index import ready_search_index


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
    """Cosine similarity a match must reach for the given false-accept rate (the strictest
    measured one when that rate was not measured)."""
    if not model.thresholds:
        raise NoActiveModel(f"Model {model.label} has no threshold table; run evaluate first.")
    metadata = {"thresholds": model.thresholds}
    return threshold_for(metadata, float(far), strictest_if_missing=True)


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
    exact: bool | None = None,
) -> list[HolderMatch]:
    """Best match per holder within one event, most similar first.

    Exact through the (model, event) btree, or through the event's own HNSW index once it has
    one (recognition.search_index); exact=True/False forces a method (benchmarks compare both).
    """
    event_id = event if isinstance(event, int) else event.pk
    if exact is None:
        exact = ready_search_index(event_id=event_id, model_id=model.pk) is None
    qs = FaceEmbedding.objects.filter(event_id=event_id, model=model)
    if exclude_holder_id is not None:
        qs = qs.exclude(holder_id=exclude_holder_id)
    # A holder may have several photos: over-fetch rows, keep each holder's best.
    rows_query = (
        qs.annotate(distance=CosineDistance("vector", vector))
        .order_by("distance")
        .values_list("holder_id", "photo_id", "distance")[: limit * 5]
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            if exact:  # no HNSW for this query, whatever the planner would like
                cursor.execute("SET LOCAL enable_indexscan = off")
            else:
                cursor.execute(
                    "SET LOCAL hnsw.ef_search = %s", [int(settings.FACEPASS_HNSW_EF_SEARCH)]
                )
        rows = list(rows_query)
    best: dict[int, HolderMatch] = {}
    for holder_id, photo_id, distance in rows:
        if holder_id not in best:
            best[holder_id] = HolderMatch(holder_id, photo_id, 1.0 - float(distance))
    return sorted(best.values(), key=lambda m: -m.similarity)[:limit]


def holder_similarity(*, holder_id: int, model: EmbeddingModel, vector: np.ndarray) -> float | None:
    """Best similarity between a probe and any of one holder's enrolled faces."""
    distance = (
        FaceEmbedding.objects.filter(holder_id=holder_id, model=model)
        .annotate(distance=CosineDistance("vector", vector))
        .order_by("distance")
        .values_list("distance", flat=True)
        .first()
    )
    return None if distance is None else 1.0 - float(distance)
