"""Worker heartbeat: each Celery worker writes a short-lived Redis key.

/healthz reads these keys to say which queues have a live consumer. A worker
that dies simply stops refreshing its key, which expires.
"""

import contextlib
import json
import os
import socket
import threading

from celery.signals import worker_process_init, worker_ready, worker_shutdown

HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL = 15
_stop = threading.Event()


def _queues_of(consumer) -> list[str]:
    try:
        return sorted(q.name for q in consumer.task_consumer.queues)
    except AttributeError:
        return []


def _heartbeat_loop(hostname: str, queues: list[str]) -> None:
    from facepass_site.health import WORKER_KEY_PREFIX, redis_client
    from recognition.worker_state import detector_status

    client = redis_client()
    key = WORKER_KEY_PREFIX + hostname
    while not _stop.is_set():
        payload = {"hostname": hostname, "pid": os.getpid(), "queues": queues}
        payload.update(detector_status(client))
        # Redis down: try again on the next beat.
        with contextlib.suppress(Exception):
            client.set(key, json.dumps(payload), ex=HEARTBEAT_TTL)
        _stop.wait(HEARTBEAT_SECONDS)
    with contextlib.suppress(Exception):
        client.delete(key)


@worker_ready.connect
def start_heartbeat(sender=None, **kwargs):
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    thread = threading.Thread(
        target=_heartbeat_loop, args=(hostname, _queues_of(sender)), daemon=True
    )
    thread.start()


@worker_shutdown.connect
def stop_heartbeat(**kwargs):
    _stop.set()


@worker_process_init.connect
def load_detector(**kwargs):
    """Load the face detector as each worker process starts (milliseconds, no TensorFlow),
    so /healthz reports a dlib-hog fallback before the first photo, not after it."""
    import logging

    from recognition import inference

    try:
        inference.get_detector()
    except Exception:  # noqa: BLE001  (a broken detector must not stop the worker booting)
        logging.getLogger(__name__).exception("face detector failed to load")


FACE_QUEUES = {"gate", "recognition"}


def _consumed_queues() -> set[str]:
    from celery import current_app

    return set(current_app.amqp.queues.consume_from or current_app.amqp.queues)


@worker_process_init.connect
def load_active_model(**kwargs):
    """Face workers load the active model when they start, not inside their first task.

    A TensorFlow model takes seconds (more on a busy machine) to load and trace: inside a gate
    task (15 s hard limit) a slow load got the process killed, and the next frame started the
    load again, so a gate never answered. A model activated later still loads in a task.
    """
    import logging

    if not _consumed_queues() & FACE_QUEUES:
        return  # webhooks, purges, index builds: no face model needed
    from recognition import inference
    from recognition.selectors import NoActiveModel, active_model

    log = logging.getLogger(__name__)
    try:
        inference.warm_up(active_model())
    except NoActiveModel:
        log.warning("no active face model yet; it will load with the first task")
    except Exception:  # noqa: BLE001  (the worker still boots; tasks report the error)
        log.exception("preloading the active face model failed")
    finally:
        from django.db import connection

        connection.close()  # opened in the child during preload; tasks open their own
