from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

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
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
        constraints = [
            models.UniqueConstraint(fields=["photo", "model"], name="one_embedding_per_photo_model")
        ]
        indexes = [
            HnswIndex(
                name="embedding_vector_hnsw",
                fields=["vector"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            models.Index(fields=["model", "event"], name="embedding_model_event"),
            models.Index(fields=["model", "holder"], name="embedding_model_holder"),
        ]

    def __str__(self):
        return f"Embedding of photo {self.photo_id} by {self.model_id}"
