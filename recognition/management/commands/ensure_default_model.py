from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from recognition.ml.runtime.artifacts import is_model_artifact, read_metadata
from recognition.models import EmbeddingModel
from recognition.services import (
    embedding_model_activate,
    embedding_model_register,
    relative_artifact_path,
)

ARTIFACTS = Path(settings.BASE_DIR) / "recognition" / "artifacts"
# The shipped default: dlib's ResNet until a trained MobileNetV2 meets the accuracy targets
# (recognition/artifacts/mobilenetv2-siamese/MODEL_CARD.md says where it stands).
DEFAULT_ARTIFACT = ARTIFACTS / "dlib-resnet"


class Command(BaseCommand):
    help = (
        "Register every shipped model artifact and activate the default one when no model "
        "is active."
    )

    def handle(self, *args, **options):
        for other in sorted(ARTIFACTS.glob("*/metadata.json")):
            if other.parent != DEFAULT_ARTIFACT and is_model_artifact(other.parent):
                # registered, not activated
                embedding_model_register(
                    metadata=read_metadata(other.parent),
                    artifact_path=relative_artifact_path(other.parent),
                )
        metadata = read_metadata(DEFAULT_ARTIFACT)
        model = embedding_model_register(
            metadata=metadata, artifact_path=relative_artifact_path(DEFAULT_ARTIFACT)
        )
        active = EmbeddingModel.objects.filter(is_active=True).first()
        if active is None:
            embedding_model_activate(model=model, actor_label="command: ensure_default_model")
            active = model
        self.stdout.write(f"Active face model: {active.label} ({active.kind}).")
