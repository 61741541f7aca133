from django.core.management.base import BaseCommand

from privacy.services import biometrics_purge_expired


class Command(BaseCommand):
    help = (
        "Delete photos, face embeddings and gate frames past their retention (what celery beat "
        "runs hourly). --dry-run counts what would go and deletes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count only; delete nothing.")

    def handle(self, *args, dry_run: bool, **options):
        counts = biometrics_purge_expired(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb}: {counts['photos']} photos, {counts['embeddings']} embeddings and "
            f"{counts['gate_frames']} gate frames ({counts['events']} events past retention)."
        )
