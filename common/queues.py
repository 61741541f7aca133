"""Queue and task names, and the routing between them: the one place they are spelled.

Three queues, each with its own workers: `gate` (gate decisions; a selfie backlog never delays a
turnstile), `recognition` (enrollment: detection, quality, embedding) and `default` (webhooks,
purges, index builds, requeues). Services queue work by task name through `task_send`, so they
never import the tasks modules that import them back.
"""

from __future__ import annotations

from celery import current_app
from kombu.exceptions import ChannelError

GATE = "gate"
RECOGNITION = "recognition"
DEFAULT = "default"
QUEUES = (DEFAULT, RECOGNITION, GATE)
# Queues whose workers load a face model.
FACE_QUEUES = frozenset({GATE, RECOGNITION})


class Task:
    """Registered task names (each task declares its own with name=)."""

    GATE_EMBED_FRAMES = "recognition.tasks.gate_embed_frames"
    BUILD_SEARCH_INDEX = "recognition.tasks.build_event_search_index"
    ENROLL_PHOTO = "enrollment.tasks.enroll_photo"
    ENROLLMENT_REQUEUE_LOST = "enrollment.tasks.enrollment_requeue_lost"
    WEBHOOK_DELIVER = "webhooks.tasks.webhook_deliver"
    BIOMETRICS_PURGE = "privacy.tasks.biometrics_purge"


ROUTES = {
    Task.GATE_EMBED_FRAMES: {"queue": GATE},
    Task.ENROLL_PHOTO: {"queue": RECOGNITION},
    Task.BUILD_SEARCH_INDEX: {"queue": DEFAULT},
    Task.ENROLLMENT_REQUEUE_LOST: {"queue": DEFAULT},
    Task.WEBHOOK_DELIVER: {"queue": DEFAULT},
    Task.BIOMETRICS_PURGE: {"queue": DEFAULT},
}


def task_send(name: str, *args, countdown: float | None = None):
    """Publish a task by name on its queue; returns the AsyncResult. Raises the broker's errors
    (common.unavailable.QUEUE_ERRORS): callers decide whether that fails the request."""
    return current_app.send_task(name, args=args, countdown=countdown, **ROUTES[name])


def queue_length(queue: str) -> int:
    """Messages waiting in a broker queue (0 when the queue does not exist yet)."""
    with current_app.connection_for_read() as connection:
        try:
            return connection.default_channel.queue_declare(queue, passive=True).message_count
        except ChannelError:
            return 0
