import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.reasons import reason_code_validator
from common.storage import private_storage


def default_time_zone() -> str:
    """New events take the deployment's TIME_ZONE (a callable: migrations do not freeze it)."""
    return settings.TIME_ZONE


def time_zone_validator(value: str) -> None:
    """Only IANA names (America/Bogota): a typo would show every event time wrongly."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a time zone name; use an IANA name such as America/Bogota."),
            code="invalid_time_zone",
            params={"value": value},
        )


class Organization(models.Model):
    """The tenant: an organizer company. Every query a user or API key makes is scoped to one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ORGANIZER = "organizer", _("Organizer")
        GATE_STAFF = "gate_staff", _("Gate staff")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_role_per_org")
        ]

    def __str__(self):
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"


class Event(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        REGISTRATION_OPEN = "registration_open", _("Registration open")
        GATES_OPEN = "gates_open", _("Gates open")
        CLOSED = "closed", _("Closed")

    class EntryPolicy(models.TextChoices):
        SINGLE_ENTRY = "single", _("Single entry")
        RE_ENTRY = "reentry", _("Re-entry allowed")

    class SecurityLevel(models.TextChoices):
        # Each level is a false-accept target; the threshold itself comes from the
        # active model's measured threshold table, never from a constant.
        RELAXED = "relaxed", _("Relaxed (1 in 100 false accepts)")
        STANDARD = "standard", _("Standard (1 in 1,000 false accepts)")
        HIGH = "high", _("High (1 in 10,000 false accepts)")

    TARGET_FAR = {"relaxed": "1e-2", "standard": "1e-3", "high": "1e-4"}

    class Liveness(models.TextChoices):
        BY_LEVEL = "", _("By security level (relaxed and standard: off, high: challenge)")
        OFF = "off", _("Off")
        PASSIVE = "passive", _("Passive: no prompt (stops screens, not a print held still)")
        CHALLENGE = "challenge", _("Challenge: the person turns their head as the gate asks")

    # Standard events opt in (a check then needs a burst of frames and, for challenge, a
    # prompted head turn); high-security events get the challenge.
    LIVENESS_BY_LEVEL = {"relaxed": "off", "standard": "off", "high": "challenge"}

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    venue = models.CharField(max_length=200, blank=True)
    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[time_zone_validator],
        help_text=_("IANA name (America/Bogota): the event's times are shown in this zone."),
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    entry_policy = models.CharField(
        max_length=10, choices=EntryPolicy.choices, default=EntryPolicy.SINGLE_ENTRY
    )
    security_level = models.CharField(
        max_length=10, choices=SecurityLevel.choices, default=SecurityLevel.STANDARD
    )
    biometric_retention_days = models.PositiveIntegerField(
        default=7,
        help_text="Photos and embeddings are deleted this many days after the event ends.",
    )
    liveness = models.CharField(
        max_length=10,
        blank=True,
        default=Liveness.BY_LEVEL,
        choices=Liveness.choices,
        help_text="Presentation-attack check at the gates: is a live person in front of the "
        "camera, not a photo or a screen?",
    )
    dispute_frame_retention_hours = models.PositiveSmallIntegerField(
        default=0,
        help_text="Keep the camera frames of each recorded gate check-in this many hours, for "
        "disputes. 0: frames are never stored.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="event_slug_per_org"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="event_ends_after_start"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def target_far(self) -> str:
        return self.TARGET_FAR[self.security_level]

    @property
    def liveness_policy(self) -> str:
        """off, passive or challenge: the event's own choice, else its security level's."""
        return self.liveness or self.LIVENESS_BY_LEVEL[self.security_level]


class Gate(models.Model):
    class Mode(models.TextChoices):
        TICKET_AND_FACE = "ticket_face", _("Ticket + face (1:1)")
        FACE_ONLY = "face_only", _("Face only (1:N)")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="gates")
    name = models.CharField(max_length=100)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.TICKET_AND_FACE)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("gate")
        verbose_name_plural = _("gates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="gate_name_per_event")
        ]

    def __str__(self):
        return f"{self.event} / {self.name}"


class CheckIn(models.Model):
    """One attempt at a gate. Rows are an audit trail: normal use never deletes them."""

    class Decision(models.TextChoices):
        ADMIT = "admit", _("Admit")
        DENY = "deny", _("Deny")
        REVIEW = "review", _("Review")

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="checkins")
    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="checkins")
    attendee = models.ForeignKey(
        "attendees.TicketHolder",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkins",
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    mode = models.CharField(max_length=20, choices=Gate.Mode.choices)
    score = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=120, blank=True)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    # Empty for a plain admit; else a code of the one vocabulary (common.reasons).
    reason = models.CharField(max_length=40, blank=True, validators=[reason_code_validator])
    reason_message = models.CharField(max_length=300, blank=True)
    overrides = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="overridden_by"
    )
    # The burst's liveness verdict when the event checks it (policy, live, code, score, prompt).
    liveness = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="checkin_idempotency_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["event", "-created_at"], name="checkin_event_time"),
            models.Index(fields=["attendee", "decision"], name="checkin_attendee_decision"),
        ]

    def __str__(self):
        return f"{self.get_decision_display()} at {self.gate} ({self.created_at:%Y-%m-%d %H:%M})"


def _frame_path(instance, filename):
    # Random names, like selfies: the path reveals neither the person nor the event.
    return f"gate_frames/{uuid.uuid4().hex}.jpg"


class CheckInFrame(models.Model):
    """A camera frame of a recorded check-in, kept privately for disputes until expires_at
    (only when the event's dispute_frame_retention_hours is above 0); the purge deletes it."""

    checkin = models.ForeignKey(CheckIn, on_delete=models.CASCADE, related_name="frames")
    image = models.FileField(storage=private_storage, upload_to=_frame_path, max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("check-in frame")
        verbose_name_plural = _("check-in frames")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Frame {self.pk} of check-in {self.checkin_id}"
