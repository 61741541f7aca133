from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = "Face recognition"

    def ready(self):
        # Celery worker hooks (heartbeat, model preload): connected once the models are ready.
        from recognition import worker_boot  # noqa: F401
