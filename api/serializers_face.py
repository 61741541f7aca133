"""Serializers for verify/identify and check-ins."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.images import image_bytes_from
from api.serializers_photos import (
    IMAGE_BASE64_HELP,
    ImageFileField,
    ImageInputSerializer,
)
from attendees.models import TicketHolder
from checkins.selectors import entry_used
from checkins.services import MAX_FRAMES
from events.models import CheckIn

DECISION_HELP = "admit, deny or review (two holders match almost equally: check by eye)."


class HolderRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketHolder
        fields = ["id", "ticket_code", "name"]
        read_only_fields = fields


class VerifyInputSerializer(ImageInputSerializer):
    ticket_code = serializers.CharField(
        max_length=64, help_text="The ticket code the person shows, e.g. DEMO-0001."
    )


class VerifyUploadSerializer(VerifyInputSerializer):
    """A photo file and the ticket code it should match, as multipart/form-data."""

    image = ImageFileField()
    image_base64 = None


class VerifyBase64Serializer(VerifyInputSerializer):
    """A base64 photo and the ticket code it should match, as JSON."""

    image = None
    image_base64 = serializers.CharField(help_text=IMAGE_BASE64_HELP)


class FaceResultSerializer(serializers.Serializer):
    """A GateOutcome: what a gate would decide, without recording anything."""

    decision = serializers.ChoiceField(choices=CheckIn.Decision.choices, help_text=DECISION_HELP)
    reason = serializers.CharField(help_text="Empty for admit, else a stable code.")
    message = serializers.CharField()
    score = serializers.FloatField(allow_null=True, help_text="Cosine similarity of the best face.")
    threshold = serializers.SerializerMethodField()
    holder = HolderRefSerializer(allow_null=True)
    model = serializers.SerializerMethodField()

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_threshold(self, outcome) -> float | None:
        return outcome.details.get("threshold")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_model(self, outcome) -> str | None:
        return outcome.model.label if outcome.model is not None else None


class CheckInCreateSerializer(ImageInputSerializer):
    """One image (`image` / `image_base64`) or a burst of frames (`images` / `images_base64`,
    oldest first, as the camera delivered them: at events that check liveness, send the
    burst)."""

    images = serializers.ListField(
        child=ImageFileField(),
        required=False,
        max_length=MAX_FRAMES,
        help_text=f"A burst of up to {MAX_FRAMES} camera frames (multipart, repeated field).",
    )
    images_base64 = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=MAX_FRAMES,
        help_text=f"A burst of up to {MAX_FRAMES} frames as base64 (JSON).",
    )
    challenge_token = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="At events whose liveness policy is `challenge`: the token of the head-turn "
        "prompt shown to the person (POST /api/v1/checkins/challenge/).",
    )
    gate = serializers.IntegerField(min_value=1)
    event = serializers.IntegerField(
        min_value=1, required=False, help_text="When given, the gate must belong to this event."
    )
    ticket_code = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="Required at 1:1 gates."
    )

    def validate(self, attrs):
        burst = attrs.pop("images", None), attrs.pop("images_base64", None)
        if burst == (None, None):
            attrs = super().validate(attrs)
            attrs["frames"] = [attrs.pop("image")]
            return attrs
        if None not in burst or "image" in attrs or "image_base64" in attrs:
            raise serializers.ValidationError(
                {"images": ["Send either one image or one list of frames, not both."]}
            )
        files, encoded = burst
        attrs["frames"] = [image_bytes_from(f, None) for f in files or []] + [
            image_bytes_from(None, e) for e in encoded or []
        ]
        if not attrs["frames"]:
            raise serializers.ValidationError({"images": ["Send at least one frame."]})
        return attrs


ONE_OR_BURST = "One photo; or send a burst instead."


class CheckInUploadSerializer(CheckInCreateSerializer):
    """A check-in as multipart/form-data: one photo file (`image`) or a burst of frame files
    (`images`, the field repeated, oldest first)."""

    image = ImageFileField(required=False, help_text=ONE_OR_BURST)
    image_base64 = None
    images_base64 = None


class CheckInBase64Serializer(CheckInCreateSerializer):
    """A check-in as JSON: one base64 photo (`image_base64`) or a burst of base64 frames
    (`images_base64`, oldest first)."""

    image = None
    images = None
    image_base64 = serializers.CharField(
        required=False, help_text=f"{IMAGE_BASE64_HELP} {ONE_OR_BURST}"
    )


class CheckInChallengeRequestSerializer(serializers.Serializer):
    gate = serializers.IntegerField(min_value=1)


class CheckInChallengeSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=["left", "right"], help_text="The person's own left or right."
    )
    prompt = serializers.CharField(help_text="What to show the person.")
    challenge_token = serializers.CharField(help_text="Send it with the check-in's frames.")
    expires_in = serializers.IntegerField(help_text="Seconds the token stays valid (one use).")


class EntryUsedSerializer(serializers.Serializer):
    """Where and when the ticket of an `already_checked_in` deny was used to enter."""

    at = serializers.DateTimeField(help_text="When the ticket was used (ISO 8601, UTC offset).")
    gate = serializers.IntegerField(source="gate_id", help_text="Id of the gate where it was used.")
    gate_name = serializers.CharField()
    time_zone = serializers.CharField(help_text="The event's time zone (else the site's).")
    text = serializers.CharField(
        help_text='Plain words for staff, e.g. "Used at 14:32 on 02/12/2026 at North gate."'
    )


class CheckInSerializer(serializers.ModelSerializer):
    holder = HolderRefSerializer(source="attendee", allow_null=True, read_only=True)
    entry = serializers.SerializerMethodField(
        help_text="For an already_checked_in deny: when and at which gate the ticket was "
        "used; else null."
    )
    reason = serializers.CharField(
        read_only=True,
        help_text="Empty for admit; else a stable code (face_mismatch, no_match, "
        "ambiguous_match, already_checked_in, gates_not_open, ticket_revoked, "
        "staff_override, ...).",
    )
    message = serializers.CharField(source="reason_message", read_only=True)
    liveness = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="At events that check liveness: the burst's verdict (policy, live, code: "
        "not_live / challenge_not_met, score, the prompted challenge); else null.",
    )

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "event",
            "gate",
            "holder",
            "decision",
            "reason",
            "message",
            "mode",
            "score",
            "model_version",
            "idempotency_key",
            "overrides",
            "liveness",
            "entry",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(EntryUsedSerializer(allow_null=True))
    def get_entry(self, checkin) -> dict | None:
        found = entry_used(checkin)
        return EntryUsedSerializer(found).data if found is not None else None


class CheckInListQuerySerializer(serializers.Serializer):
    event = serializers.IntegerField(required=False, min_value=1)
    gate = serializers.IntegerField(required=False, min_value=1)
    decision = serializers.ChoiceField(choices=CheckIn.Decision.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="Created at or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Created before (ISO 8601).")

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and until <= since:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return attrs
