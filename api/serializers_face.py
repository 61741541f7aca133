"""Serializers for verify/identify and check-ins."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers_photos import ImageInputSerializer
from attendees.models import TicketHolder
from events.models import CheckIn

DECISION_HELP = "admit, deny or review (two holders match almost equally: check by eye)."


class HolderRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketHolder
        fields = ["id", "ticket_code", "name"]
        read_only_fields = fields


class VerifyInputSerializer(ImageInputSerializer):
    ticket_code = serializers.CharField(max_length=64)


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
    gate = serializers.IntegerField(min_value=1)
    event = serializers.IntegerField(
        min_value=1, required=False, help_text="When given, the gate must belong to this event."
    )
    ticket_code = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="Required at 1:1 gates."
    )


class CheckInSerializer(serializers.ModelSerializer):
    holder = HolderRefSerializer(source="attendee", allow_null=True, read_only=True)
    reason = serializers.CharField(
        read_only=True,
        help_text="Empty for admit; else a stable code (face_mismatch, no_match, "
        "ambiguous_match, already_checked_in, gates_not_open, ticket_revoked, "
        "staff_override, ...).",
    )
    message = serializers.CharField(source="reason_message", read_only=True)

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
            "created_at",
        ]
        read_only_fields = fields


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
