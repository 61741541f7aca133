from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from events.models import Organization


class ApiKey(models.Model):
    """A machine credential for one organization. Only a SHA-256 hash of the key is stored.

    The plaintext (`fp_<prefix>_<secret>`) is shown once, when the key is created; the
    prefix stays visible so people can tell keys apart and find the row for a key.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'ticket shop'.")
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")

    def __str__(self):
        return f"{self.name} (fp_{self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def audit_actor_label(self) -> str:
        """Who acted, in the audit log: the key acts for its organization, not for a person."""
        return f"api key fp_{self.prefix}"
