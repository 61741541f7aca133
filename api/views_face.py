"""Verify (1:1) and identify (1:N) within one event, as a gate would decide, recording nothing."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from api import docs_examples as ex
from api.docs_errors import FACE_INPUT, errors
from api.selectors import events_for_organization
from api.serializers_face import (
    FaceResultSerializer,
    VerifyBase64Serializer,
    VerifyInputSerializer,
    VerifyUploadSerializer,
)
from api.serializers_photos import (
    ImageBase64Serializer,
    ImageInputSerializer,
    ImageUploadSerializer,
)
from api.views import EVENT_ID
from api.views_base import ApiViewSet, ImageUploadMixin, image_request
from checkins.services import CheckInRequest, checkin_perform
from events.models import Event, Gate

THRESHOLDS = (
    "The threshold is the active model's measured one at the event's security level "
    "(its false-accept target)."
)


@extend_schema(tags=["face"], parameters=[EVENT_ID], responses={200: FaceResultSerializer})
class FaceViewSet(ImageUploadMixin, ApiViewSet):
    queryset = Event.objects.none()

    def get_serializer_class(self):
        """For OPTIONS (DRF's metadata describes the POST body)."""
        match = self.request.resolver_match if self.request else None
        if match is not None and match.url_name == "face-verify":
            return VerifyInputSerializer
        return ImageInputSerializer

    def _event(self) -> Event:
        return get_object_or_404(
            events_for_organization(self.organization), pk=self.kwargs["event_id"]
        )

    def _answer(self, request_: CheckInRequest) -> Response:
        return Response(FaceResultSerializer(checkin_perform(request_).outcome).data)

    @extend_schema(
        summary="Verify a face against a ticket (1:1)",
        request=image_request(VerifyUploadSerializer, VerifyBase64Serializer),
        responses={
            200: FaceResultSerializer,
            **errors(*FACE_INPUT, "not_found", "unknown_ticket", "other_event"),
        },
        examples=[
            ex.request(
                "Base64 photo and ticket",
                {
                    "image_base64": "/9j/4AAQSkZJRgABAQAAAQABAAD...",
                    "ticket_code": "RVF-2026-000481",
                },
            ),
            ex.response("Same person", ex.FACE_ADMIT),
            ex.response("Someone else", ex.FACE_MISMATCH),
        ],
        description="Is the person in the image the holder of `ticket_code` in this event? "
        "Decides like a 1:1 gate (admit when the best similarity reaches the threshold, "
        "deny with face_mismatch, not_enrolled or ticket_revoked otherwise) whatever the "
        f"event's status, and records no check-in. {THRESHOLDS}",
    )
    @action(detail=False, methods=["post"])
    def verify(self, request, event_id=None):
        event = self._event()
        serializer = VerifyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return self._answer(
            CheckInRequest(
                event=event,
                mode=Gate.Mode.TICKET_AND_FACE,
                frames=[data["image"]],
                ticket_code=data["ticket_code"],
            )
        )

    @extend_schema(
        summary="Identify a face among the event's holders (1:N)",
        request=image_request(ImageUploadSerializer, ImageBase64Serializer),
        responses={200: FaceResultSerializer, **errors(*FACE_INPUT, "not_found")},
        examples=[
            ex.request("Base64 photo", {"image_base64": "/9j/4AAQSkZJRgABAQAAAQABAAD..."}),
            ex.response("Found", ex.FACE_ADMIT),
            ex.response(
                "Nobody",
                {
                    **ex.FACE_ADMIT,
                    "decision": "deny",
                    "reason": "no_match",
                    "message": "No enrolled ticket holder of this event matches this face.",
                    "score": 0.31,
                    "holder": None,
                },
            ),
        ],
        description="Which enrolled holder of this event is the person in the image? Decides "
        "like a face-only gate: admit the best match when it reaches the threshold and beats "
        "the second best by FACEPASS_GATE_1N_MARGIN, review when two holders match almost "
        f"equally, deny with no_match otherwise. Records no check-in. {THRESHOLDS}",
    )
    @action(detail=False, methods=["post"])
    def identify(self, request, event_id=None):
        event = self._event()
        serializer = ImageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        frames = [serializer.validated_data["image"]]
        return self._answer(CheckInRequest(event=event, mode=Gate.Mode.FACE_ONLY, frames=frames))
