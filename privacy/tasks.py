"""Celery task for the retention purge (queue `default`, run hourly by celery beat)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from common.queues import Task
from privacy.services import biometrics_purge_expired


@shared_task(
    name=Task.BIOMETRICS_PURGE,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def biometrics_purge() -> dict:
    """Delete biometric data past its retention. Safe to run twice: the second finds nothing."""
    return biometrics_purge_expired()
