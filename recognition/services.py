"""Writes for face models and embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from attendees.models import EnrollmentPhoto
from audit.models import AuditEntry
from audit.services import audit_record
from common.gallery_feed import embeddings_changed_on_commit
from recognition.models import EmbeddingModel, FaceEmbedding


def embedding_model_register(*, metadata: dict, artifact_path: str = "") -> EmbeddingModel:
    """Create or refresh the registry row of an artifact (keyed on name and version)."""
    model, _ = EmbeddingModel.objects.update_or_create(
        name=metadata["name"],
        version=metadata["version"],
        defaults={
            "kind": metadata["embedder"],
            "dimensions": metadata["dimensions"],
            "artifact_path": artifact_path,
            "thresholds": metadata.get("thresholds", {}),
            "metrics": metadata.get("metrics", {}),
            "openset": metadata.get("openset", {}),
        },
    )
    return model


def embedding_model_activate(
    *, model: EmbeddingModel, actor=None, actor_label: str = ""
) -> EmbeddingModel:
    """Make this the one model queries use; embeddings of other versions are left unused."""
    if not model.thresholds:
        raise ValueError(f"{model.label} has no threshold table: evaluate it before activating.")
    with transaction.atomic():
        previous = list(
            EmbeddingModel.objects.filter(is_active=True).exclude(pk=model.pk).select_for_update()
        )
        EmbeddingModel.objects.filter(pk__in=[m.pk for m in previous]).update(is_active=False)
        model.is_active = True
        model.activated_at = timezone.now()
        model.save(update_fields=["is_active", "activated_at"])
        audit_record(
            action=AuditEntry.Action.MODEL_ACTIVATE,
            actor=actor,
            actor_label=actor_label,
            target=model,
            details={"model": model.label, "previous": [m.label for m in previous]},
        )
    return model


def relative_artifact_path(path: str | Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def face_embedding_store(
    *, photo: EnrollmentPhoto, model: EmbeddingModel, vector: np.ndarray
) -> FaceEmbedding:
    embedding, _ = FaceEmbedding.objects.update_or_create(
        photo=photo,
        model=model,
        defaults={
            "event_id": photo.holder.event_id,
            "holder_id": photo.holder_id,
            "vector": np.asarray(vector, dtype=np.float32),
        },
    )
    # Face-only galleries held in memory (recognition.gallery) fetch it after the commit.
    embeddings_changed_on_commit([(embedding.event_id, embedding.pk)])
    return embedding


def face_embeddings_store(
    *, rows: list[tuple[EnrollmentPhoto, np.ndarray]], model: EmbeddingModel
) -> None:
    """face_embedding_store for a batch of photos in one statement (an upsert on photo and
    model): an enrollment batch writes its embeddings in one round trip."""
    written = FaceEmbedding.objects.bulk_create(
        [
            FaceEmbedding(
                photo=photo,
                model=model,
                event_id=photo.holder.event_id,
                holder_id=photo.holder_id,
                vector=np.asarray(vector, dtype=np.float32),
            )
            for photo, vector in rows
        ],
        update_conflicts=True,
        unique_fields=["photo", "model"],
        update_fields=["event", "holder", "vector"],
    )
    embeddings_changed_on_commit((e.event_id, e.pk) for e in written)
