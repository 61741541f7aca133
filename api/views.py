"""Thin API views for events and ticket holders: parse, call a selector or service, serialize.

Photos, verify/identify and check-ins live in api/views_photos.py, views_face.py and
views_checkins.py.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api import docs_examples as ex
from api.docs_errors import errors
from api.selectors import events_for_organization, ticket_holders_for_event
from api.serializers import (
    BulkHolderRowSerializer,
    BulkResultSerializer,
    EventSerializer,
    HolderListQuerySerializer,
    OpenGatesSerializer,
    TicketHolderSerializer,
)
from api.serializers_photos import (
    BiometricsDeletedSerializer,
    ConsentSerializer,
    RegistrationLinkSerializer,
)
from api.services import BULK_MAX_ROWS, registration_link_issue, ticket_holders_bulk_upsert
from api.views_base import ApiViewSet, EventScopedViewSet, pagination_for
from attendees.models import TicketHolder
from attendees.services import (
    ticket_holder_create,
    ticket_holder_record_consent,
    ticket_holder_update,
)
from checkins.services import event_gates_open
from common.reasons import Reason, ReasonError
from events.models import Event
from events.services import event_create, event_set_status, event_update
from privacy.services import (
    ticket_holder_biometrics_delete,
    ticket_holder_data_export,
    ticket_holder_delete,
)

EVENT_RESPONSE = [ex.response("Event", ex.EVENT)]


@extend_schema(tags=["events"])
@extend_schema_view(
    list=extend_schema(
        summary="List events",
        description="The organization's events, newest first, each with its gates. "
        "`face_only_capacity` is null in lists (see one event).",
        responses={200: EventSerializer(many=True), **errors("invalid", "not_found")},
        examples=EVENT_RESPONSE,
    ),
    retrieve=extend_schema(
        summary="Get an event",
        description="One event with its gates and, with a calibrated active model, the "
        "expected outcomes of a face-only gate at its current size (`face_only_capacity`).",
        responses={200: EventSerializer, **errors("not_found")},
        examples=EVENT_RESPONSE,
    ),
    partial_update=extend_schema(
        summary="Change an event",
        description="Change the name, venue, times, entry policy, security level, retention "
        "or liveness policy. The slug is set once; status changes go through `open-gates` "
        "and `close`.",
        responses={200: EventSerializer, **errors("invalid", "not_found")},
        examples=[
            ex.request("Move the start", {"starts_at": "2026-07-18T15:30:00Z"}),
            *EVENT_RESPONSE,
        ],
    ),
)
class EventViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    ApiViewSet,
):
    serializer_class = EventSerializer
    queryset = Event.objects.none()
    http_method_names = ["get", "post", "patch", "head", "options"]
    pagination_class = pagination_for("/api/v1/events/")

    def get_queryset(self):
        if self.schema_only:
            return Event.objects.none()
        return events_for_organization(self.organization)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not self.schema_only and self.request.auth is not None:
            context["organization"] = self.organization
        return context

    @extend_schema(
        summary="Create an event",
        responses={201: EventSerializer, **errors("invalid")},
        examples=[
            ex.request("Festival", ex.EVENT_CREATE),
            ex.response("Created", ex.EVENT | {"gates": [], "status": "draft"}, 201),
        ],
    )
    def create(self, request, *args, **kwargs):
        """Create an event in draft. The slug defaults to the name's; add gates with
        `POST /api/v1/events/{event_id}/gates/`, ticket holders with
        `POST /api/v1/events/{event_id}/holders/` (or `/bulk/`), then open the gates."""
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = event_create(
            organization=self.organization, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = event_update(event=serializer.instance, **serializer.validated_data)

    def _set_status(self, status_value):
        event = self.get_object()
        event_set_status(event=event, status=status_value)
        return Response(self.get_serializer(event).data)

    @extend_schema(
        summary="Open the gates",
        request=OpenGatesSerializer,
        responses={
            200: EventSerializer,
            **errors("invalid", "not_found", "event_closed", "face_only_capacity"),
        },
        examples=[
            ex.request("Open", {}),
            ex.request("Open face-only gates anyway", {"confirm_face_only": True}),
            ex.response("Opened", ex.EVENT | {"status": "gates_open"}),
        ],
    )
    @action(detail=True, methods=["post"], url_path="open-gates")
    def open_gates(self, request, pk=None):
        """Open the gates: check-ins are accepted from now on. A closed event stays closed
        (409 event_closed). Face-only gates past what the model supports at the event's size
        (see face_only_capacity) need `confirm_face_only` (else 409 face_only_capacity)."""
        options = OpenGatesSerializer(data=request.data or {})
        options.is_valid(raise_exception=True)
        event = event_gates_open(event=self.get_object(), **options.validated_data)
        return Response(self.get_serializer(event).data)

    @extend_schema(
        summary="Close the event",
        request=None,
        responses={200: EventSerializer, **errors("not_found")},
        examples=[ex.response("Closed", ex.EVENT | {"status": "closed"})],
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the event: no more check-ins. Closing a closed event changes nothing."""
        return self._set_status(Event.Status.CLOSED)


EVENT_ID = OpenApiParameter("event_id", OpenApiTypes.INT, OpenApiParameter.PATH)
HOLDER_ID = OpenApiParameter("holder_id", OpenApiTypes.INT, OpenApiParameter.PATH)


HOLDER_RESPONSE = [ex.response("Ticket holder", ex.HOLDER)]


@extend_schema(tags=["ticket holders"], parameters=[EVENT_ID])
@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a ticket holder",
        description="One ticket holder: ticket fields, derived status (invited, consented, "
        "enrolled, revoked) and consent.",
        responses={200: TicketHolderSerializer, **errors("not_found")},
        examples=HOLDER_RESPONSE,
    ),
    partial_update=extend_schema(
        summary="Change a ticket holder",
        description="Change the ticket code, name, e-mail or external id. Status and consent "
        "are not set by hand: they follow consent, photos and revocation.",
        responses={200: TicketHolderSerializer, **errors("invalid", "not_found")},
        examples=[
            ex.request("New e-mail", {"email": "ana.g@example.org"}),
            *HOLDER_RESPONSE,
        ],
    ),
)
class TicketHolderViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    EventScopedViewSet,
):
    serializer_class = TicketHolderSerializer
    queryset = TicketHolder.objects.none()
    pagination_class = pagination_for("/api/v1/events/12/holders/")

    def get_queryset(self):
        if self.schema_only:
            return TicketHolder.objects.none()
        if self.action != "list":
            return ticket_holders_for_event(self.event)
        query = HolderListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return ticket_holders_for_event(self.event, **query.validated_data)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not self.schema_only and self.request.auth is not None:
            context["event"] = self.event
        return context

    @extend_schema(
        summary="List ticket holders",
        parameters=[HolderListQuerySerializer],
        responses={200: TicketHolderSerializer(many=True), **errors("invalid", "not_found")},
        examples=HOLDER_RESPONSE,
    )
    def list(self, request, *args, **kwargs):
        """The event's ticket holders by ticket code, filtered by `status` or by `search` (part
        of a ticket code)."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Create a ticket holder",
        responses={201: TicketHolderSerializer, **errors("invalid", "not_found")},
        examples=[
            ex.request("Ticket sold", ex.HOLDER_CREATE),
            ex.response(
                "Created",
                ex.HOLDER | {"status": "invited", "consent_at": None, "consent_text_version": ""},
                201,
            ),
        ],
    )
    def create(self, request, *args, **kwargs):
        """Add one ticket holder (a sold ticket). The ticket code and external id are unique
        within the event. Next: their consent and a photo, through the registration link
        or through `consent` and `photos`."""
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = ticket_holder_create(event=self.event, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = ticket_holder_update(
            holder=serializer.instance, **serializer.validated_data
        )

    @extend_schema(summary="Delete a ticket holder", responses={204: None, **errors("not_found")})
    def destroy(self, request, *args, **kwargs):
        """Delete the ticket holder with all their photos and face templates (files too);
        their check-ins stay, without the person. Recorded in the audit log."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        ticket_holder_delete(holder=instance, actor=self.request.user)

    @extend_schema(
        summary="Create or update ticket holders in bulk",
        request=BulkHolderRowSerializer(many=True),
        responses={200: BulkResultSerializer, **errors("invalid", "not_found")},
        examples=[
            ex.request(
                "Two rows",
                [
                    ex.HOLDER_CREATE,
                    {"ticket_code": "RVF-2026-000482", "name": "Luis Pérez", "email": ""},
                ],
            ),
            ex.response(
                "One created, one invalid",
                {
                    "created": 1,
                    "updated": 0,
                    "unchanged": 0,
                    "errors": [{"index": 1, "message": "email: Enter a valid email address."}],
                },
            ),
        ],
        description=(
            f"Upsert up to {BULK_MAX_ROWS} holders by ticket code. Valid rows are applied; "
            "invalid rows are reported by their index and change nothing. Sending the same "
            "rows again changes nothing."
        ),
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request, event_id=None):
        rows = request.data
        if not isinstance(rows, list):
            raise ValidationError({"non_field_errors": ["Send a JSON list of holder objects."]})
        if len(rows) > BULK_MAX_ROWS:
            raise ValidationError(
                {"non_field_errors": [f"At most {BULK_MAX_ROWS} rows per request."]}
            )
        report = ticket_holders_bulk_upsert(event=self.event, rows=rows)
        return Response(BulkResultSerializer(report).data, status=status.HTTP_200_OK)

    def _unrevoked_holder(self) -> TicketHolder:
        holder = self.get_object()
        if holder.status == TicketHolder.Status.REVOKED:
            raise ReasonError(Reason.TICKET_REVOKED)
        return holder

    @extend_schema(
        summary="Issue a registration link",
        request=None,
        responses={
            200: RegistrationLinkSerializer,
            **errors("not_found", "ticket_revoked"),
        },
        examples=[
            ex.response(
                "Link",
                {
                    "url": f"{ex.BASE_URL}/register/NTAxMjpSVkYtMjAy:1tZk0r:Qe7yKc0f3PZ/",
                    "expires_at": "2026-07-19T01:00:00Z",
                },
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="registration-link")
    def registration_link(self, request, event_id=None, pk=None):
        """A signed link to the holder's registration page (consent and selfie), for the
        ticketing system's e-mail. It expires at `expires_at` and stops working when the
        ticket code changes. Each call issues a fresh link; earlier ones stay valid."""
        link = registration_link_issue(holder=self._unrevoked_holder())
        return Response(RegistrationLinkSerializer(link).data)

    @extend_schema(
        summary="Record consent",
        request=ConsentSerializer,
        responses={
            200: TicketHolderSerializer,
            **errors("invalid", "not_found", "ticket_revoked"),
        },
        examples=[
            ex.request("Consent given", {"text_version": "2026-06"}),
            ex.response("Consented", ex.HOLDER | {"status": "consented"}),
        ],
    )
    @action(detail=True, methods=["post"])
    def consent(self, request, event_id=None, pk=None):
        """Record the attendee's consent to biometric processing, given in the ticketing
        system; photos are accepted only after it."""
        holder = self._unrevoked_holder()
        serializer = ConsentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        holder = ticket_holder_record_consent(holder=holder, **serializer.validated_data)
        return Response(TicketHolderSerializer(holder).data)

    @extend_schema(
        summary="Delete a holder's face data",
        request=None,
        responses={200: BiometricsDeletedSerializer, **errors("not_found")},
        examples=[ex.response("Deleted", {"deleted_photos": 2})],
    )
    @action(detail=True, methods=["delete"])
    def biometrics(self, request, event_id=None, pk=None):
        """Delete every photo and face embedding of the holder, files included; the ticket
        stays. Consent is withdrawn with the data, so new photos need consent again."""
        deleted = ticket_holder_biometrics_delete(holder=self.get_object(), actor=request.user)
        return Response(BiometricsDeletedSerializer({"deleted_photos": deleted}).data)

    @extend_schema(
        summary="Export a holder's data",
        request=None,
        responses={200: OpenApiTypes.OBJECT, **errors("not_found")},
    )
    @action(detail=True, methods=["get"])
    def export(self, request, event_id=None, pk=None):
        """Everything FacePass holds about the holder, for a data-access request: ticket
        fields, consent (time, text version), photos (status, dates, quality, rejection
        reason, the count and model versions of face templates, never their numbers) and
        check-ins (time, gate, decision). Recorded in the audit log."""
        data = ticket_holder_data_export(holder=self.get_object(), actor=request.user)
        return Response(data)
