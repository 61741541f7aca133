from django.core.management.base import BaseCommand, CommandError

from recognition.ml.runtime.artifacts import ArtifactError, read_metadata
from recognition.services import (
    embedding_model_activate,
    embedding_model_register,
    relative_artifact_path,
)


class Command(BaseCommand):
    help = "Register a model artifact directory (weights + metadata.json) in the model registry."

    def add_arguments(self, parser):
        parser.add_argument("artifact_dir")
        parser.add_argument("--activate", action="store_true", help="Make it the active model.")

    def handle(self, *args, artifact_dir, activate, **options):
        try:
            metadata = read_metadata(artifact_dir)
        except ArtifactError as exc:
            raise CommandError(str(exc)) from None
        model = embedding_model_register(
            metadata=metadata, artifact_path=relative_artifact_path(artifact_dir)
        )
        self.stdout.write(f"Registered {model.label} ({model.kind}).")
        if not metadata.get("trained", True):
            self.stdout.write(self.style.WARNING(metadata.get("warning", "Model is UNTRAINED.")))
        if activate:
            self.stdout.write("Activating; run `manage.py reembed` to embed existing photos.")
            try:
                embedding_model_activate(model=model)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
