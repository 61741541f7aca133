import uuid

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from common.reasons import reason_code_validator
from common.storage import private_storage
from events.models import Event

# ICU collation with numeric ordering (migration 0007): "Held out 2" sorts before "Held out 10".
NATURAL_SORT = "natural_sort"


class TicketHolder(models.Model):
    class Status(models.TextChoices):
        INVITED = "invited", _("Invited (no consent yet)")
        CONSENTED = "consented", _("Consented, no accepted photo")
        ENROLLED = "enrolled", _("Enrolled")
        REVOKED = "revoked", _("Ticket revoked")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="ticket_holders")
    ticket_code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_text_version = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INVITED)
    needs_review = models.BooleanField(
        default=False, help_text="Set when this face closely matches another holder's face."
    )
    review_note = models.CharField(max_length=300, blank=True)
    # When the registration link shown to organizers was issued: the link is signed with this
    # time, so it reads the same on every page load until it is issued again.
    registration_link_issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ticket holder")
        verbose_name_plural = _("ticket holders")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["event", "ticket_code"], name="ticket_code_per_event"),
            models.UniqueConstraint(
                fields=["event", "external_id"],
                condition=~Q(external_id=""),
                name="external_id_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["event", "status"], name="holder_event_status"),
            # Codes are looked up without case (common/tickets.py, `iexact` is UPPER() = UPPER()):
            # without this a gate's ticket lookup scans the event (33 ms at 100,000 holders).
            models.Index(F("event"), Upper("ticket_code"), name="holder_event_code_upper"),
        ]

    def __str__(self):
        return f"{self.name} ({self.ticket_code})"

    @property
    def has_consented(self) -> bool:
        return self.consent_at is not None


def _photo_path(instance, filename):
    # Random names: the path must reveal neither the holder nor the event.
    return f"enrollment/{uuid.uuid4().hex}.jpg"


class EnrollmentPhoto(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    holder = models.ForeignKey(TicketHolder, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(storage=private_storage, upload_to=_photo_path, max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    rejection_code = models.CharField(max_length=40, blank=True, validators=[reason_code_validator])
    rejection_message = models.CharField(max_length=300, blank=True)
    quality = models.JSONField(default=dict, blank=True)
    face_box = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a worker claimed the photo; a claim older than the task time limit is
    # abandoned (worker killed) and may be taken again.
    processing_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("enrollment photo")
        verbose_name_plural = _("enrollment photos")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="photo_status_time")]

    def __str__(self):
        return f"Photo {self.pk} of {self.holder} ({self.status})"
