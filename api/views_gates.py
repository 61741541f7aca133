"""Gates of an event: create, list, get, switch on and off."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api import docs_examples as ex
from api.docs_errors import errors
from api.serializers_gates import (
    GateActivateSerializer,
    GateCreateSerializer,
    GateDetailSerializer,
)
from api.views import EVENT_ID
from api.views_base import EventScopedViewSet, pagination_for
from checkins.services import gate_add, gate_set_active
from events.models import Gate

GATE = {**ex.GATE, "event": 12}
FACE_GATE = {**ex.FACE_GATE, "event": 12}


@extend_schema(tags=["gates"], parameters=[EVENT_ID])
@extend_schema_view(
    list=extend_schema(
        summary="List an event's gates",
        description="The event's gates by name, active or not.",
        responses={200: GateDetailSerializer(many=True), **errors("invalid", "not_found")},
        examples=[ex.response("Gate", GATE)],
    ),
    retrieve=extend_schema(
        summary="Get a gate",
        description="One gate of the event: its mode and whether it is switched on.",
        responses={200: GateDetailSerializer, **errors("not_found")},
        examples=[ex.response("Gate", GATE)],
    ),
)
class GateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EventScopedViewSet):
    serializer_class = GateDetailSerializer
    queryset = Gate.objects.none()
    http_method_names = ["get", "post", "head", "options"]
    pagination_class = pagination_for("/api/v1/events/12/gates/")

    def get_queryset(self):
        if self.schema_only:
            return Gate.objects.none()
        return self.event.gates.order_by("name", "pk")

    @extend_schema(
        summary="Create a gate",
        request=GateCreateSerializer,
        responses={
            201: GateDetailSerializer,
            **errors("invalid", "not_found", "face_only_capacity"),
        },
        examples=[
            ex.request("Ticket + face", {"name": "North", "mode": "ticket_face"}),
            ex.request("Face only", {"name": "Fast lane", "mode": "face_only"}),
            ex.response("Created", GATE, 201),
        ],
    )
    def create(self, request, event_id=None):
        """Add a gate to the event: `ticket_face` gates check the face against a scanned
        ticket (1:1), `face_only` gates find the person among the enrolled holders (1:N).
        A face-only gate switched on while the gates are open needs `confirm_face_only`
        past the event's face-only capacity, as opening the gates does."""
        serializer = GateCreateSerializer(data=request.data, context={"event": self.event})
        serializer.is_valid(raise_exception=True)
        gate = gate_add(event=self.event, **serializer.validated_data)
        return Response(GateDetailSerializer(gate).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Switch a gate on",
        request=GateActivateSerializer,
        responses={
            200: GateDetailSerializer,
            **errors("invalid", "not_found", "face_only_capacity"),
        },
        examples=[
            ex.request("Switch on", {}),
            ex.request("Face-only gate anyway", {"confirm_face_only": True}),
            ex.response("Switched on", FACE_GATE),
        ],
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, event_id=None, pk=None):
        """Switch the gate on: it checks people in again. Switching on a face-only gate while
        the gates are open needs `confirm_face_only` past the event's face-only capacity
        (409 face_only_capacity), as opening the gates does."""
        options = GateActivateSerializer(data=request.data or {})
        options.is_valid(raise_exception=True)
        gate = gate_set_active(gate=self.get_object(), is_active=True, **options.validated_data)
        return Response(GateDetailSerializer(gate).data)

    @extend_schema(
        summary="Switch a gate off",
        request=None,
        responses={200: GateDetailSerializer, **errors("not_found")},
        examples=[ex.response("Switched off", GATE | {"is_active": False})],
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request, event_id=None, pk=None):
        """Switch the gate off: its check-ins answer 409 gate_inactive and record nothing
        until it is switched on again."""
        gate = gate_set_active(gate=self.get_object(), is_active=False)
        return Response(GateDetailSerializer(gate).data)
