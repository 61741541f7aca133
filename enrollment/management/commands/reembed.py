from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from enrollment.selectors import photos_missing_embedding
from enrollment.workflow import reembed_pending
from recognition.selectors import NoActiveModel, active_model


class Command(BaseCommand):
    help = (
        "Embed every accepted photo that has no embedding by the active model. "
        "Each batch is committed, so an interrupted run resumes where it stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=64)

    def handle(self, *args, batch_size, **options):
        try:
            model = active_model()
        except NoActiveModel as exc:
            raise CommandError(str(exc)) from None
        todo = photos_missing_embedding(model).count()
        with tqdm(total=todo, desc=f"re-embedding with {model.label}", unit="photo") as bar:
            done = reembed_pending(batch_size=batch_size, progress=bar.update)
        self.stdout.write(f"{done} photos embedded with {model.label}.")
