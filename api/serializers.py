from dataclasses import asdict

from django.utils.text import slugify
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from attendees.models import TicketHolder
from checkins.selectors import face_only_capacity
from common.tickets import ticket_code_normalise, ticket_code_q
from events.models import Event, Gate


class GateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Gate
        fields = ["id", "name", "mode", "is_active"]
        read_only_fields = fields


class FaceOnlyCapacitySerializer(serializers.Serializer):
    """What a face-only (1:N) gate of the event can expect now (checkins.selectors)."""

    holders = serializers.IntegerField(help_text="Ticket holders with an enrolled face.")
    photos = serializers.IntegerField(help_text="Enrollment photos per holder (median).")
    level = serializers.FloatField(help_text="The security level as an FPIR.")
    expected_fpir = serializers.FloatField(help_text="Share of strangers admitted as someone.")
    expected_tpir = serializers.FloatField(help_text="Share of holders admitted without review.")
    expected_review = serializers.FloatField(help_text="Share of holders sent to review.")
    expected_stranger_review = serializers.FloatField(help_text="Share of strangers reviewed.")
    beyond_calibration = serializers.BooleanField(
        help_text="Past what the model's calibration supports: face-only gates admit nobody "
        "and send every match to review."
    )
    face_only_sensible = serializers.BooleanField(
        help_text="False below half the holders admitted without review: use ticket + face."
    )
    model = serializers.CharField()


class OpenGatesSerializer(serializers.Serializer):
    confirm_face_only = serializers.BooleanField(
        default=False,
        help_text="Open face-only gates even where face_only_capacity says they are not "
        "sensible at this event's size (else 409 face_only_capacity).",
    )


class EventSerializer(serializers.ModelSerializer):
    gates = GateSerializer(many=True, read_only=True)
    face_only_capacity = serializers.SerializerMethodField(
        help_text="Expected outcomes of a face-only gate at the event's level and current "
        "number of enrolled holders, on GET of one event (null in lists, and without a "
        "calibrated active model)."
    )
    slug = serializers.SlugField(
        max_length=80, required=False, help_text="Set once on create; defaults to the name."
    )

    class Meta:
        model = Event
        fields = [
            "id",
            "name",
            "slug",
            "venue",
            "starts_at",
            "ends_at",
            "time_zone",
            "status",
            "entry_policy",
            "security_level",
            "biometric_retention_days",
            "liveness",
            "gates",
            "face_only_capacity",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "created_at", "updated_at"]

    @extend_schema_field(FaceOnlyCapacitySerializer(allow_null=True))
    def get_face_only_capacity(self, event) -> dict | None:
        view = self.context.get("view")
        if view is None or getattr(view, "action", None) != "retrieve":
            return None  # a few queries per event: on one event's page, not in every list
        capacity = face_only_capacity(event)
        if capacity is None:
            return None
        data = asdict(capacity) | {"face_only_sensible": capacity.face_only_sensible}
        return FaceOnlyCapacitySerializer(data).data

    def validate(self, attrs):
        instance = self.instance
        starts = attrs.get("starts_at", getattr(instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        if instance is not None:
            if "slug" in attrs and attrs["slug"] != instance.slug:
                raise serializers.ValidationError({"slug": ["The slug cannot be changed."]})
            return attrs
        slug = attrs.get("slug") or slugify(attrs.get("name", ""))[:80]
        if not slug:
            raise serializers.ValidationError(
                {"slug": ["Give a slug: none can be made from the name."]}
            )
        if Event.objects.filter(organization=self.context["organization"], slug=slug).exists():
            raise serializers.ValidationError(
                {"slug": [f"An event with slug {slug!r} already exists."]}
            )
        attrs["slug"] = slug
        return attrs


class TicketHolderSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketHolder
        fields = [
            "id",
            "ticket_code",
            "name",
            "email",
            "external_id",
            "status",
            "consent_at",
            "consent_text_version",
            "needs_review",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "consent_at",
            "consent_text_version",
            "needs_review",
            "created_at",
            "updated_at",
        ]

    def _others(self):
        qs = TicketHolder.objects.filter(event=self.context["event"])
        return qs.exclude(pk=self.instance.pk) if self.instance is not None else qs

    def validate_ticket_code(self, value):
        value = ticket_code_normalise(value)
        if self._others().filter(ticket_code_q(value)).exists():
            raise serializers.ValidationError("This ticket code is already used in this event.")
        return value

    def validate_external_id(self, value):
        if value and self._others().filter(external_id=value).exists():
            raise serializers.ValidationError("This external id is already used in this event.")
        return value


class HolderListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TicketHolder.Status.choices, required=False)
    search = serializers.CharField(
        required=False, max_length=64, help_text="Part of a ticket code."
    )


class BulkHolderRowSerializer(serializers.Serializer):
    """One row of a bulk upload (documentation only: rows are validated one by one)."""

    ticket_code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)


class BulkRowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the row in the request list.")
    message = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = BulkRowErrorSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per-field messages; empty unless code is 'invalid'.",
    )
