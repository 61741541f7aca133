"""Celery worker hooks of the face workers: heartbeat, detector and model loading at start.

Connected when the recognition app is ready (recognition.apps), so every worker process of the
deployment runs them.
"""

from __future__ import annotations

import logging
import socket
import threading

from celery import current_app
from celery.signals import worker_process_init, worker_ready, worker_shutdown
from django.db import connection

from common.queues import FACE_QUEUES
from common.workers import Heartbeat
from recognition import inference
from recognition.selectors import NoActiveModel, active_model

logger = logging.getLogger(__name__)
_heartbeats: list[Heartbeat] = []


def _queues_of(consumer) -> list[str]:
    try:
        return sorted(q.name for q in consumer.task_consumer.queues)
    except AttributeError:
        return []


@worker_ready.connect
def start_heartbeat(sender=None, **kwargs):
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    heartbeat = Heartbeat(hostname, _queues_of(sender))
    heartbeat.start()
    _heartbeats.append(heartbeat)


@worker_shutdown.connect
def stop_heartbeat(**kwargs):
    for heartbeat in _heartbeats:
        heartbeat.stop()


@worker_process_init.connect
def load_detector(**kwargs):
    """Load the face detector as each worker process starts (milliseconds, no TensorFlow),
    so /healthz reports a dlib-hog fallback before the first photo, not after it."""
    try:
        inference.get_detector()
    except Exception:  # noqa: BLE001  (a broken detector must not stop the worker booting)
        logger.exception("face detector failed to load")


def _consumed_queues() -> set[str]:
    return set(current_app.amqp.queues.consume_from or current_app.amqp.queues)


@worker_process_init.connect
def load_active_model(**kwargs) -> threading.Thread | None:
    """Face workers load the active model when they start, not inside their first task.

    A model takes seconds (more on a busy machine) to load and trace: inside a gate task (15 s
    hard limit) a slow load got the process killed; done here, before the process reports up,
    Celery killed it for not reporting within worker_proc_alive_timeout. So it loads in a
    thread (inference.load_in_background): the process reports up at once, tasks wait for the
    load, /healthz says "loading" meanwhile. A model activated later still loads in a task.
    """
    if not _consumed_queues() & FACE_QUEUES:
        return  # webhooks, purges, index builds: no face model needed
    try:
        return inference.load_in_background(active_model())
    except NoActiveModel:
        logger.warning("no active face model yet; it will load with the first task")
        return None
    finally:
        connection.close()  # opened in the child to read the model; the thread opens its own
