"""Reads of the enrollment workflow: photos still to embed, photos whose task was lost."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from attendees.models import EnrollmentPhoto
from recognition.models import EmbeddingModel


def photos_missing_embedding(model: EmbeddingModel) -> QuerySet[EnrollmentPhoto]:
    """Accepted photos with no embedding by this model: what `reembed` still has to do."""
    return (
        EnrollmentPhoto.objects.filter(status=EnrollmentPhoto.Status.ACCEPTED)
        .exclude(embeddings__model=model)
        .select_related("holder")
        .order_by("pk")
    )


def photos_with_lost_tasks(
    *, processing_before: datetime, pending_before: datetime | None
) -> QuerySet[EnrollmentPhoto]:
    """Photos no task will finish: claimed before `processing_before` (the claiming worker
    died) or, when `pending_before` is given, still waiting since then."""
    lost = Q(status=EnrollmentPhoto.Status.PROCESSING, processing_started_at__lt=processing_before)
    if pending_before is not None:
        lost |= Q(status=EnrollmentPhoto.Status.PENDING, created_at__lt=pending_before)
    return EnrollmentPhoto.objects.filter(lost).order_by("pk")
