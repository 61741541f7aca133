import getpass

from django.core.management.base import BaseCommand, CommandError

from enrollment.selectors import photos_missing_embedding
from recognition.models import EmbeddingModel
from recognition.services import embedding_model_activate


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return "unknown"


class Command(BaseCommand):
    help = "Make a registered model the active one (queries then use only its embeddings)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version")

    def handle(self, *args, name, version, **options):
        model = EmbeddingModel.objects.filter(name=name, version=version).first()
        if model is None:
            raise CommandError(f"No registered model {name}@{version}; use register_model first.")
        try:
            embedding_model_activate(
                model=model, actor_label=f"command: activate_model (OS user {_os_user()})"
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        missing = photos_missing_embedding(model).count()
        self.stdout.write(f"{model.label} is active. {missing} accepted photos need `reembed`.")
