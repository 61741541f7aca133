"""Check-ins: one image at one gate, decided and recorded (idempotently); and the log."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.selectors import checkins_for_organization, gates_for_organization
from api.serializers import ErrorSerializer
from api.serializers_face import (
    CheckInCreateSerializer,
    CheckInListQuerySerializer,
    CheckInSerializer,
)
from api.views_base import ERRORS, FACE_ERRORS, ApiViewSet, ImageUploadMixin, image_request
from checkins.services import CheckInRequest, checkin_perform
from common.reasons import Reason, ReasonError
from events.models import CheckIn, Gate

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Up to 100 characters, unique per event. Sending a key again returns the "
    "first check-in with the same status and records nothing new (header "
    "Idempotent-Replayed: true).",
)
KEY_MAX_LENGTH = CheckIn._meta.get_field("idempotency_key").max_length


def idempotency_key_of(request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > KEY_MAX_LENGTH:
        raise ValidationError({"Idempotency-Key": [f"At most {KEY_MAX_LENGTH} characters."]})
    return key or None


@extend_schema(tags=["check-ins"], responses={200: CheckInSerializer, **ERRORS})
class CheckInViewSet(
    ImageUploadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    serializer_class = CheckInSerializer
    queryset = CheckIn.objects.none()
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if self.schema_only:
            return CheckIn.objects.none()
        if self.action != "list":
            return checkins_for_organization(self.organization)
        query = CheckInListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return checkins_for_organization(self.organization, **query.validated_data)

    @extend_schema(parameters=[CheckInListQuerySerializer])
    def list(self, request, *args, **kwargs):
        """The check-in log, newest first: every recorded gate attempt of the organization."""
        return super().list(request, *args, **kwargs)

    def _gate(self, data) -> Gate:
        gate = get_object_or_404(gates_for_organization(self.organization), pk=data["gate"])
        if data.get("event") not in (None, gate.event_id):
            raise ReasonError(Reason.WRONG_EVENT)
        return gate

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request=image_request(CheckInCreateSerializer),
        responses={201: CheckInSerializer, 409: ErrorSerializer, **FACE_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        """Check one person in at a gate: decided like the gate page (1:1 with `ticket_code`
        at ticket gates, 1:N at face-only gates), recorded, single entry enforced. Every
        decision (admit, deny, review) is 201 with the recorded check-in; unusable input
        (4xx) records nothing. 409 gate_inactive; 422 wrong_event when `event` is given and
        the gate is not one of its gates."""
        serializer = CheckInCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        request_ = CheckInRequest.at_gate(
            self._gate(data),
            [data["image"]],
            ticket_code=data.get("ticket_code", "").strip(),
            idempotency_key=idempotency_key_of(request),
        )
        try:
            result = checkin_perform(request_)
        except ReasonError as exc:
            if exc.reason == Reason.NO_TICKET:  # a missing field, in the API's field-error shape
                raise ValidationError({"ticket_code": [exc.message]}) from None
            raise
        response = Response(CheckInSerializer(result.checkin).data, status=status.HTTP_201_CREATED)
        if not result.created:
            response["Idempotent-Replayed"] = "true"
        return response
