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
