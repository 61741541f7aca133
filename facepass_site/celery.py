"""Celery application.

Queues: `gate` (gate decisions, never shares a worker with enrollment),
`recognition` (enrollment: detection, quality, embedding) and `default`.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facepass_site.settings")

app = Celery("facepass")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("recognition"), Queue("gate"))
app.autodiscover_tasks()
