from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = _("Face recognition")

    def ready(self):
        # Celery worker hooks (heartbeat, model preload): connected once the models are ready.
        from recognition import worker_boot  # noqa: F401
