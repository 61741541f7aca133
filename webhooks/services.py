"""Writes for webhooks: endpoints, emitting events, and delivery attempts.

Deliveries are at-least-once: a receiver may see an event twice (a worker killed after
the POST but before recording it) and should dedupe on the event `id`.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from functools import partial
from typing import TypeGuard

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from common import queues
from events.models import Organization
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from webhooks.payloads import checkin_payload, enrollment_photo_payload
from webhooks.selectors import webhook_endpoints_subscribed
from webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header

logger = logging.getLogger(__name__)
USER_AGENT = "FacePass-Webhooks/1"
PHOTO_EVENTS = {
    "accepted": WebhookEventType.PHOTO_ACCEPTED,
    "rejected": WebhookEventType.PHOTO_REJECTED,
}


def webhook_endpoint_create(
    *, organization, url: str, event_types=(), description: str = "", is_active: bool = True
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        organization=organization,
        url=url,
        event_types=list(event_types),
        description=description,
        is_active=is_active,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def webhook_event_emit(*, organization, event_type: str, payload: dict) -> list[WebhookDelivery]:
    """One pending delivery per subscribed active endpoint, queued once the caller commits.

    Rows are written in the caller's transaction, so a rolled-back check-in or photo
    result sends nothing and a committed one cannot lose its event.
    """
    return webhook_events_emit(events=[(organization, event_type, payload)])


def webhook_events_emit(*, events: list[tuple[Organization, str, dict]]) -> list[WebhookDelivery]:
    """webhook_event_emit for several (organization, event type, payload) events at once: the
    subscribed endpoints are looked up once per organization and event type, and every
    delivery is written by one statement (an enrollment batch emits one event per photo)."""
    subscribed: dict[tuple[int, str], list[WebhookEndpoint]] = {}
    deliveries: list[WebhookDelivery] = []
    now = timezone.now()
    for organization, event_type, payload in events:
        if event_type not in WebhookEventType.values:
            raise ValueError(f"Unknown webhook event type {event_type!r}.")
        key = (organization.pk, event_type)
        if key not in subscribed:
            subscribed[key] = list(
                webhook_endpoints_subscribed(organization=organization, event_type=event_type)
            )
        if not subscribed[key]:
            continue
        data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))  # dates etc. to JSON now
        event_id = uuid.uuid4()
        deliveries += [
            WebhookDelivery(
                endpoint=endpoint,
                event_type=event_type,
                event_id=event_id,
                payload=data,
                created_at=now,
                next_attempt_at=now,
            )
            for endpoint in subscribed[key]
        ]
    if not deliveries:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(deliveries)
    transaction.on_commit(partial(webhook_deliveries_queue, [(d.pk, 1) for d in deliveries]))
    return deliveries


def webhook_deliveries_queue(jobs: list[tuple[int, int]], countdown: float = 0) -> None:
    """Queue (delivery id, attempt number) pairs on the `default` queue.

    A broker outage must not turn an already committed check-in into an error page, so
    it is logged; the delivery stays pending and visible in the admin.
    """
    for delivery_id, attempt in jobs:
        try:
            queues.task_send(queues.Task.WEBHOOK_DELIVER, delivery_id, attempt, countdown=countdown)
        except BrokerError:
            logger.exception("could not queue webhook delivery %s", delivery_id)


def checkin_webhook_emit(*, checkin) -> list[WebhookDelivery]:
    return webhook_event_emit(
        organization=checkin.event.organization,
        event_type=WebhookEventType.CHECKIN_CREATED,
        payload=checkin_payload(checkin),
    )


def enrollment_photos_webhook_emit(*, photos) -> list[WebhookDelivery]:
    """photo.accepted / photo.rejected for each photo with a final outcome."""
    return webhook_events_emit(
        events=[
            (
                photo.holder.event.organization,
                PHOTO_EVENTS[photo.status],
                enrollment_photo_payload(photo),
            )
            for photo in photos
            if photo.status in PHOTO_EVENTS
        ]
    )


def webhook_delivery_retry(*, delivery: WebhookDelivery) -> bool:
    """Give a failed delivery one more attempt now (e.g. its receiver is back up).

    The attempt counter continues, so if this attempt fails too the delivery is marked
    failed again at once instead of starting a new backoff series. Returns whether it
    was queued.
    """
    now = timezone.now()
    # Conditional update: two people clicking "Retry now" at once queue one attempt.
    updated = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=WebhookDelivery.Status.FAILED
    ).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now)
    if not updated:
        return False
    delivery.refresh_from_db()
    jobs = [(delivery.pk, delivery.attempts + 1)]
    transaction.on_commit(partial(webhook_deliveries_queue, jobs))
    return True


def webhook_backoff_seconds(attempt: int) -> float:
    """Delay after failed attempt number `attempt` (1-based): base, 2·base, 4·base, …"""
    return settings.FACEPASS_WEBHOOK_BACKOFF_SECONDS * 2 ** (attempt - 1)


def webhook_body(delivery: WebhookDelivery) -> bytes:
    envelope = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created": int(delivery.created_at.timestamp()),
        "data": delivery.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def webhook_request_build(
    delivery: WebhookDelivery, *, timestamp: int | None = None
) -> urllib.request.Request:
    body = webhook_body(delivery)
    # Signed at send time, not at emit time: a retry minutes later still passes the
    # receiver's timestamp tolerance.
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-FacePass-Event": delivery.event_type,
        "X-FacePass-Delivery": str(delivery.pk),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(delivery.endpoint.secret, timestamp, body),
    }
    return urllib.request.Request(delivery.endpoint.url, data=body, headers=headers, method="POST")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would resend a POST as a bodiless GET, and a
    redirect could point the signed event at another host. A 3xx counts as a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _http_error_text(exc: urllib.error.HTTPError) -> str:
    text = f"HTTP {exc.code} {exc.reason}".strip()
    if 300 <= exc.code < 400:
        text += f"; redirect to {exc.headers.get('Location', '?')} not followed"
    return text


def webhook_post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST once; returns (status code or None, error text: empty on a 2xx answer).

    The response body is neither read nor stored: an organizer must not be able to use
    an endpoint URL to read pages of hosts only FacePass can reach.
    """
    request = webhook_request_build(delivery)
    timeout = settings.FACEPASS_WEBHOOK_TIMEOUT_SECONDS
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, _http_error_text(exc)
    except urllib.error.URLError as exc:
        return None, f"{type(exc.reason).__name__}: {exc.reason}"
    except TimeoutError:
        return None, f"TimeoutError: no answer within {timeout:g} s"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _is_due(delivery: WebhookDelivery | None, attempt: int) -> TypeGuard[WebhookDelivery]:
    # A task for an attempt that was already recorded (redelivered or duplicated) is stale.
    return (
        delivery is not None
        and delivery.status == WebhookDelivery.Status.PENDING
        and delivery.attempts == attempt - 1
    )


def webhook_delivery_attempt(*, delivery_id: int, attempt: int) -> float | None:
    """Make attempt number `attempt` of a delivery and record its outcome.

    Returns the seconds to wait before the next attempt, or None when none is due
    (succeeded, failed for good, or this task was stale).
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if not _is_due(delivery, attempt):
        return None
    if not delivery.endpoint.is_active:
        # Switched off after the event was emitted: respect it, visibly.
        error = "Endpoint is inactive; not sent."
        return _attempt_record(delivery_id, attempt, None, error, give_up=True)
    status_code, error = webhook_post(delivery)
    return _attempt_record(delivery_id, attempt, status_code, error)


def _attempt_record(
    delivery_id: int, attempt: int, status_code: int | None, error: str, *, give_up=False
) -> float | None:
    now, delay = timezone.now(), None
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if not _is_due(delivery, attempt):
            return None  # a duplicate task recorded this attempt first
        delivery.attempts = attempt
        delivery.last_status_code = status_code
        delivery.last_error = error[:500]
        if not error:
            delivery.status, delivery.delivered_at = WebhookDelivery.Status.SUCCEEDED, now
            delivery.next_attempt_at = None
        elif give_up or attempt >= settings.FACEPASS_WEBHOOK_MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delay = webhook_backoff_seconds(attempt)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        delivery.save(
            update_fields=[
                "attempts",
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    if delivery.status == WebhookDelivery.Status.FAILED:
        logger.warning("webhook delivery %s failed after %s attempts", delivery_id, attempt)
    return delay
