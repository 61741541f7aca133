"""Celery application. Queues, task names and routes: common.queues."""

import os

from celery import Celery
from kombu import Queue

from common.queues import QUEUES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facepass_site.settings")

app = Celery("facepass")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = tuple(Queue(name) for name in QUEUES)
app.autodiscover_tasks()
