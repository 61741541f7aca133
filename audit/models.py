from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """Who did what to which record, and when. Append-only: rows are never changed."""

    class Action(models.TextChoices):
        CHECKIN_OVERRIDE = "checkin_override", _("Gate override")
        PHOTO_DELETE = "photo_delete", _("Enrollment photo deleted")
        HOLDER_DELETE = "holder_delete", _("Ticket holder deleted")
        HOLDER_BIOMETRICS_DELETE = "holder_biometrics_delete", _("Holder's biometric data deleted")
        EVENT_BIOMETRICS_DELETE = "event_biometrics_delete", _("Event's biometric data deleted")
        RETENTION_PURGE = "retention_purge", _("Biometric data purged (retention ended)")
        MODEL_ACTIVATE = "model_activate", _("Face model activated")
        API_KEY_CREATE = "api_key_create", _("API key created")
        API_KEY_REVOKE = "api_key_revoke", _("API key revoked")
        DATA_EXPORT = "data_export", _("Personal data exported")

    timestamp = models.DateTimeField(default=timezone.now, editable=False)
    # The user, when a person acted; actor_label says who in words for everyone else (an API
    # key, an attendee's link, the system) and keeps the user's name should the user go.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    actor_label = models.CharField(max_length=200, editable=False)
    # Null for deployment-wide actions (model activation), seen only by superusers.
    organization = models.ForeignKey(
        "events.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    action = models.CharField(max_length=40, choices=Action.choices, editable=False)
    # A label, an id and a description rather than a foreign key: the target is often deleted
    # by the very action recorded here.
    target_type = models.CharField(max_length=100, blank=True, editable=False)
    target_id = models.CharField(max_length=64, blank=True, editable=False)
    target_repr = models.CharField(max_length=200, blank=True, editable=False)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder, editable=False)

    class Meta:
        ordering = ["-timestamp", "-pk"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["organization", "-timestamp"], name="audit_org_time"),
            models.Index(fields=["action", "-timestamp"], name="audit_action_time"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
            models.Index(fields=["-timestamp"], name="audit_time"),
        ]

    def __str__(self):
        when = f"{self.timestamp:%Y-%m-%d %H:%M}"
        return f"{self.get_action_display()} by {self.actor_label} ({when})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Audit entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit entries are never deleted.")
