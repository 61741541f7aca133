import argparse

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from recognition.ml.tools.cli import CliError


class Command(BaseCommand):
    help = (
        "Train a face model with recognition.ml.training.train and optionally register it. "
        "Training options follow `--`, e.g. manage.py train_model --register -- --arch "
        "mobilenetv2-triplet --data DIR --val DIR --out DIR"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--register", action="store_true", help="register the artifact when training ends"
        )
        parser.add_argument(
            "--activate",
            action="store_true",
            help="also make it the active model (photos then need `manage.py reembed`)",
        )
        parser.add_argument(
            "train_args",
            nargs=argparse.REMAINDER,
            help="options of python -m recognition.ml.training.train (see its --help)",
        )

    def handle(self, *args, register, activate, train_args, **options):
        from recognition.ml.training.train import train

        if train_args[:1] == ["--"]:
            train_args = train_args[1:]
        try:
            run = train(train_args)
        except CliError as exc:
            raise CommandError(str(exc)) from None
        except SystemExit as exc:  # argparse already printed what was wrong
            raise CommandError("invalid training options") from exc
        self.stdout.write(f"Trained artifact: {run.out}")
        if register or activate:
            call_command("register_model", str(run.out), activate=activate, stdout=self.stdout)
