"""Serializers for gates and staff overrides."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from checkins.services import OVERRIDE_REASON_MAX_CHARS
from events.models import CheckIn, Gate

CONFIRM_HELP = (
    "Switch on a face-only gate at an event whose gates are open even where "
    "face_only_capacity says it is not sensible at the event's size (else 409 "
    "face_only_capacity), as when opening the gates."
)


class GateDetailSerializer(serializers.ModelSerializer):
    class Meta:
        model = Gate
        fields = ["id", "event", "name", "mode", "is_active"]
        read_only_fields = fields


class GateCreateSerializer(serializers.ModelSerializer):
    confirm_face_only = serializers.BooleanField(
        default=False, write_only=True, help_text=CONFIRM_HELP
    )

    class Meta:
        model = Gate
        fields = ["name", "mode", "is_active", "confirm_face_only"]
        extra_kwargs = {
            "mode": {"help_text": "ticket_face: ticket + face (1:1); face_only: face alone (1:N)."},
            "is_active": {"default": True},
        }

    def validate_name(self, value):
        if Gate.objects.filter(event=self.context["event"], name=value).exists():
            raise serializers.ValidationError(_("This event already has a gate of this name."))
        return value


class GateActivateSerializer(serializers.Serializer):
    confirm_face_only = serializers.BooleanField(default=False, help_text=CONFIRM_HELP)


class OverrideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[CheckIn.Decision.ADMIT, CheckIn.Decision.DENY],
        help_text="admit (admit anyway) or deny.",
    )
    reason = serializers.CharField(
        max_length=OVERRIDE_REASON_MAX_CHARS,
        help_text="Why, in the staff's words; kept with the check-in and in the audit log.",
    )
