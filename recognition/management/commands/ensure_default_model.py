from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from recognition.ml.runtime.artifacts import (
    is_model_artifact,
    meets_shipping_rule,
    read_metadata,
)
from recognition.models import EmbeddingModel
from recognition.services import (
    embedding_model_activate,
    embedding_model_register,
    relative_artifact_path,
)

ARTIFACTS = Path(settings.BASE_DIR) / "recognition" / "artifacts"
REFERENCE_NAME = "dlib-resnet"  # the model every candidate is measured against
CANDIDATE_NAME = "mobilenetv2-siamese"  # the design's own model


def default_artifact(artifacts: Path = ARTIFACTS) -> Path:
    """The shipping rule (recognition.ml.runtime.artifacts.meets_shipping_rule): the trained
    MobileNetV2 is the default only when its validation metrics come within 0.005 ROC AUC and
    0.03 TAR at FAR 1e-3 of dlib-resnet's; otherwise dlib-resnet is (the candidate's
    MODEL_CARD.md says where it stands)."""
    reference = artifacts / REFERENCE_NAME
    candidate = artifacts / CANDIDATE_NAME
    if is_model_artifact(candidate):
        metrics = read_metadata(candidate)["metrics"]
        if meets_shipping_rule(metrics, read_metadata(reference)["metrics"]):
            return candidate
    return reference


DEFAULT_ARTIFACT = default_artifact()


class Command(BaseCommand):
    help = (
        "Register every shipped model artifact and activate the default one (by the shipping "
        "rule) when no model is active."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--artifacts", default=str(ARTIFACTS), help="folder of shipped model artifacts"
        )

    def handle(self, *args, artifacts, **options):
        artifacts_dir = Path(artifacts)
        default = default_artifact(artifacts_dir)
        for other in sorted(artifacts_dir.glob("*/metadata.json")):
            if other.parent != default and is_model_artifact(other.parent):
                # registered, not activated
                embedding_model_register(
                    metadata=read_metadata(other.parent),
                    artifact_path=relative_artifact_path(other.parent),
                )
        model = embedding_model_register(
            metadata=read_metadata(default), artifact_path=relative_artifact_path(default)
        )
        active = EmbeddingModel.objects.filter(is_active=True).first()
        if active is None:
            embedding_model_activate(model=model, actor_label="command: ensure_default_model")
            active = model
        self.stdout.write(f"Active face model: {active.label} ({active.kind}).")
        if active.pk != model.pk:
            # An existing installation keeps its model: switching needs every photo re-embedded.
            self.stdout.write(
                f"The shipped default is {model.label}: to switch, run `manage.py activate_model "
                f"{model.name} {model.version}` then `manage.py reembed`."
            )
