"""Check-ins: one image at one gate, decided and recorded (idempotently); and the log."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api import docs_examples as ex
from api.docs_errors import FACE_INPUT, errors
from api.selectors import checkins_for_organization, gates_for_organization
from api.serializers_face import (
    CheckInBase64Serializer,
    CheckInChallengeRequestSerializer,
    CheckInChallengeSerializer,
    CheckInCreateSerializer,
    CheckInListQuerySerializer,
    CheckInSerializer,
    CheckInUploadSerializer,
)
from api.serializers_gates import OverrideSerializer
from api.views_base import ApiViewSet, ImageUploadMixin, image_request, pagination_for
from checkins.services import (
    CheckInRequest,
    challenge_prompt,
    checkin_override,
    checkin_perform,
    liveness_challenge_issue,
)
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


@extend_schema(tags=["check-ins"])
@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a check-in",
        description="One recorded gate attempt or staff override: decision, reason, score, "
        "holder, and for an override the attempt it overrides (`overrides`).",
        responses={200: CheckInSerializer, **errors("not_found")},
        examples=[ex.response("Admitted", ex.CHECKIN_ADMIT), ex.response("Override", ex.OVERRIDE)],
    ),
)
class CheckInViewSet(
    ImageUploadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    serializer_class = CheckInSerializer
    queryset = CheckIn.objects.none()
    http_method_names = ["get", "post", "head", "options"]
    pagination_class = pagination_for("/api/v1/checkins/")

    def get_queryset(self):
        if self.schema_only:
            return CheckIn.objects.none()
        if self.action != "list":
            return checkins_for_organization(self.organization)
        query = CheckInListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return checkins_for_organization(self.organization, **query.validated_data)

    @extend_schema(
        summary="List check-ins",
        parameters=[CheckInListQuerySerializer],
        responses={200: CheckInSerializer(many=True), **errors("invalid", "not_found")},
        examples=[ex.response("Admitted", ex.CHECKIN_ADMIT)],
    )
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
        request=image_request(CheckInUploadSerializer, CheckInBase64Serializer),
        summary="Check a person in at a gate",
        responses={
            201: CheckInSerializer,
            **errors(
                *FACE_INPUT,
                "challenge_required",
                "challenge_invalid",
                "not_found",
                "gate_inactive",
                "unknown_ticket",
                "other_event",
                "wrong_event",
                "too_few_frames",
            ),
        },
        examples=[
            ex.request(
                "Ticket + face gate",
                {
                    "gate": 31,
                    "ticket_code": "RVF-2026-000481",
                    "image_base64": "/9j/4AAQSkZJRgABAQAAAQABAAD...",
                },
            ),
            ex.request(
                "Burst of frames",
                {
                    "gate": 32,
                    "images_base64": ["/9j/4AAQSkZJRg...", "/9j/4AAQSkZJRg...", "/9j/4AAQ..."],
                },
            ),
            ex.response("Admitted", ex.CHECKIN_ADMIT, 201),
            ex.response("Ticket already used", ex.CHECKIN_USED, 201),
        ],
    )
    def create(self, request, *args, **kwargs):
        """Check one person in at a gate: decided like the gate page (1:1 with `ticket_code`
        at ticket gates, 1:N at face-only gates), recorded, single entry enforced. Every
        decision (admit, deny, review) is 201 with the recorded check-in; unusable input
        (4xx) records nothing. 409 gate_inactive; 422 wrong_event when `event` is given and
        the gate is not one of its gates. At events that check liveness, send a burst of
        frames (`images`); under the `challenge` policy first get a head-turn prompt from
        `POST /api/v1/checkins/challenge/`, show it, and send its `challenge_token` (400
        challenge_required / challenge_invalid); a burst that is not a live person is a deny
        with reason not_live or challenge_not_met, 422 too_few_frames when the face was not
        seen long enough."""
        serializer = CheckInCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        request_ = CheckInRequest.at_gate(
            self._gate(data),
            data["frames"],
            ticket_code=data.get("ticket_code", "").strip(),
            idempotency_key=idempotency_key_of(request),
            challenge_token=data.get("challenge_token", ""),
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

    @extend_schema(
        summary="Get a head-turn prompt",
        request=CheckInChallengeRequestSerializer,
        responses={200: CheckInChallengeSerializer, **errors("invalid", "not_found")},
        examples=[
            ex.request("At gate 31", {"gate": 31}),
            ex.response(
                "Prompt",
                {
                    "direction": "left",
                    "prompt": "Slowly turn your head to your left",
                    "challenge_token": "eyJnIjozMSwiZCI6ImxlZnQifQ:1tZk0r:aX9...",
                    "expires_in": 30,
                },
            ),
        ],
    )
    @action(detail=False, methods=["post"])
    def challenge(self, request, *args, **kwargs):
        """A head-turn prompt for one check-in at a gate whose event's liveness policy is
        `challenge`: show `prompt` to the person, capture the burst while they turn, and send
        `challenge_token` with the frames within `expires_in` seconds (one use). The direction
        is drawn here, never by the client."""
        serializer = CheckInChallengeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        gate = self._gate(serializer.validated_data)
        issued = liveness_challenge_issue(gate=gate)
        body = {
            "direction": issued.direction,
            "prompt": challenge_prompt(issued.direction),
            "challenge_token": issued.token,
            "expires_in": issued.expires_in,
        }
        return Response(CheckInChallengeSerializer(body).data)

    @extend_schema(
        summary="Override a check-in (admit anyway, or deny)",
        request=OverrideSerializer,
        responses={
            201: CheckInSerializer,
            **errors(
                "invalid",
                "not_found",
                "no_ticket_holder",
                "ticket_revoked",
                "gates_not_open",
                "already_checked_in",
                "unchanged",
                "not_an_attempt",
            ),
        },
        examples=[
            ex.request(
                "Admit anyway",
                {
                    "decision": "admit",
                    "reason": "Wristband checked by hand: re-entry after first aid.",
                },
            ),
            ex.request("Deny", {"decision": "deny", "reason": "Photo ID does not match."}),
            ex.response("Overridden", ex.OVERRIDE, 201),
        ],
    )
    @action(detail=True, methods=["post"])
    def override(self, request, *args, **kwargs):
        """Staff overrule a gate attempt, as on the gate page: `admit` (admit anyway) or
        `deny`, with a reason. Recorded as a new check-in (reason staff_override) pointing at
        the attempt (`overrides`), audited with this API key, and sent as a checkin.created
        webhook; the attempt itself never changes. Admitting needs a ticket holder, a valid
        ticket, open gates and, under single entry, no standing entry. Overriding the same
        attempt again (a change of mind) is allowed; an override itself is not a target."""
        serializer = OverrideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        override = checkin_override(
            checkin=self.get_object(),
            staff_user=None,
            actor=request.user,
            **serializer.validated_data,
        )
        return Response(CheckInSerializer(override).data, status=status.HTTP_201_CREATED)
