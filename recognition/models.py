from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

EMBEDDING_DIMENSIONS = 128


class EmbeddingModel(models.Model):
    """A registered face model. Exactly one is active; embeddings of others are never mixed in."""

    class Kind(models.TextChoices):
        MOBILENETV2_SIAMESE = "mobilenetv2-siamese", "MobileNetV2 siamese (triplet)"
        DLIB_RESNET = "dlib-resnet", "dlib ResNet"
        CONTRASTIVE_CNN = "contrastive-cnn", "Contrastive CNN"

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    dimensions = models.PositiveSmallIntegerField(default=EMBEDDING_DIMENSIONS)
    artifact_path = models.CharField(max_length=500, blank=True)
    thresholds = models.JSONField(
        default=dict, blank=True, help_text="Cosine similarity threshold by false-accept rate."
    )
    metrics = models.JSONField(default=dict, blank=True)
    # The open-set calibration (stranger-score tails by photo count) that sets face-only
    # thresholds by gallery size: the artifact's metadata.json "openset" block, empty when the
    # model was never calibrated (face-only gates then never admit, they send to review).
    openset = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("face model")
        verbose_name_plural = _("face models")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="model_name_version"),
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_model"
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


class FaceEmbedding(models.Model):
    """One embedding of one photo by one model.

    event and holder are copied from the photo so per-event search filters on a
    btree column without joins.
    """

    photo = models.ForeignKey(
        "attendees.EnrollmentPhoto", on_delete=models.CASCADE, related_name="embeddings"
    )
    model = models.ForeignKey(EmbeddingModel, on_delete=models.PROTECT, related_name="embeddings")
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    holder = models.ForeignKey(
        "attendees.TicketHolder", on_delete=models.CASCADE, related_name="embeddings"
    )
    vector = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("face embedding")
        verbose_name_plural = _("face embeddings")
        constraints = [
            models.UniqueConstraint(fields=["photo", "model"], name="one_embedding_per_photo_model")
        ]
        # No table-wide vector index: every search is within one event, and a global HNSW
        # index filtered afterwards by event returns too few rows (and the planner may pick
        # it for small events). Large events get their own partial HNSW index instead
        # (EventSearchIndex); the rest are searched exactly through this btree.
        indexes = [
            models.Index(fields=["model", "event"], name="embedding_model_event"),
            models.Index(fields=["model", "holder"], name="embedding_model_holder"),
        ]

    def __str__(self):
        return f"Embedding of photo {self.photo_id} by {self.model_id}"


class EventSearchIndex(models.Model):
    """A partial HNSW index over one event's embeddings by one model.

    Built once an event outgrows exact search (FACEPASS_SEARCH_INDEX_MIN_ROWS); queries use it
    only when `status` is ready, so a half-built index is never searched.
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(EmbeddingModel, on_delete=models.CASCADE, related_name="+")
    index_name = models.CharField(max_length=63, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    rows_when_built = models.PositiveIntegerField(default=0)
    build_seconds = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("event search index")
        verbose_name_plural = _("event search indexes")
        constraints = [
            models.UniqueConstraint(fields=["event", "model"], name="one_search_index_per_event")
        ]

    def __str__(self):
        return f"{self.index_name} ({self.status})"
