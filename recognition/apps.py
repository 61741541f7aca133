from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = "Face recognition"

    def ready(self):
        from recognition import signals  # noqa: F401  (worker heartbeat hooks)
