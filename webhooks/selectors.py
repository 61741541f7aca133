"""Reads for webhooks."""

from django.db.models import Count, Q, QuerySet

from webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoints_subscribed(*, organization, event_type: str) -> QuerySet[WebhookEndpoint]:
    """Active endpoints of the organization that want this event type (an empty list: all)."""
    return WebhookEndpoint.objects.filter(organization=organization, is_active=True).filter(
        Q(event_types=[]) | Q(event_types__contains=[event_type])
    )


def webhook_delivery_counts(*, endpoint: WebhookEndpoint) -> dict[str, int]:
    """Deliveries of one endpoint by status, every status present (zero when none)."""
    counts = dict.fromkeys(WebhookDelivery.Status.values, 0)
    rows = endpoint.deliveries.order_by().values_list("status").annotate(n=Count("pk"))
    counts.update(dict(rows))
    return counts
