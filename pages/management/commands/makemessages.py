"""`manage.py makemessages -l es` with the project's defaults: only our own code is scanned
(not the virtualenv, tests, benchmarks or build output) and locations name files, not lines,
so a moved line does not rewrite the catalogue. README, "Translations", has the workflow."""

from django.core.management.commands import makemessages

IGNORED = [
    ".venv",
    "var",
    "staticfiles",
    "test-artifacts",
    "tests",
    "benchmarks",
    "scripts",
    "node_modules",
]


class Command(makemessages.Command):
    def handle(self, *args, **options):
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *IGNORED]
        options["add_location"] = options.get("add_location") or "file"
        return super().handle(*args, **options)
