import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from events.models import Organization


class WebhookEventType(models.TextChoices):
    CHECKIN_CREATED = "checkin.created", _("Check-in recorded")
    PHOTO_ACCEPTED = "photo.accepted", _("Enrollment photo accepted")
    PHOTO_REJECTED = "photo.rejected", _("Enrollment photo rejected")


def webhook_secret_generate() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A URL of one organization that receives signed event notifications."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    # URLField alone also accepts ftp://; only HTTP(S) can be POSTed to.
    url = models.URLField(
        "URL", max_length=500, validators=[URLValidator(schemes=["http", "https"])]
    )
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=64, default=webhook_secret_generate, editable=False)
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text="Event types sent to this URL; none selected means all.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook endpoint")

    def __str__(self):
        return self.url

    def clean(self):
        types = self.event_types
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise ValidationError({"event_types": "Must be a list of event type names."})
        unknown = sorted(set(types) - set(WebhookEventType.values))
        if unknown:
            raise ValidationError({"event_types": f"Unknown event types: {', '.join(unknown)}."})

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, with the outcome of its latest attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    # Shared by the deliveries of one event to several endpoints: receivers dedupe on it.
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Not auto_now_add: all deliveries of one event carry the same creation time.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_one_delivery_per_event"
            )
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
            models.Index(fields=["status", "-created_at"], name="webhook_delivery_status"),
            models.Index(fields=["event_type", "-created_at"], name="webhook_delivery_type"),
        ]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint} ({self.status})"
