"""Celery task for webhook deliveries (queue `default`). Thin: ids in, services do the work."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from common.queues import Task
from webhooks.services import webhook_deliveries_queue, webhook_delivery_attempt


@shared_task(
    name=Task.WEBHOOK_DELIVER,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=8,
)
def webhook_deliver(delivery_id: int, attempt: int) -> None:
    """Make one attempt; on failure queue the next one after the backoff delay.

    The attempt number travels with the task so a redelivered or duplicated task finds
    its attempt already recorded and does nothing, instead of sending early.
    """
    delay = webhook_delivery_attempt(delivery_id=delivery_id, attempt=attempt)
    if delay is not None:
        webhook_deliveries_queue([(delivery_id, attempt + 1)], countdown=delay)
