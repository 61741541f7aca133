"""Enrollment photos: upload under a holder, then follow the status URL until processed."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from api import docs_examples as ex
from api.docs_errors import IMAGE_INPUT, errors
from api.selectors import (
    holder_photos,
    photos_for_organization,
    ticket_holders_for_organization,
)
from api.serializers_photos import (
    ImageBase64Serializer,
    ImageInputSerializer,
    ImageUploadSerializer,
    PhotoSerializer,
)
from api.views import EVENT_ID, HOLDER_ID
from api.views_base import ApiViewSet, ImageUploadMixin, image_request, pagination_for
from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import enrollment_photo_delete
from enrollment.workflow import enrollment_photo_create


@extend_schema(tags=["photos"], parameters=[EVENT_ID, HOLDER_ID])
class HolderPhotoViewSet(ImageUploadMixin, mixins.ListModelMixin, ApiViewSet):
    serializer_class = PhotoSerializer
    queryset = EnrollmentPhoto.objects.none()
    pagination_class = pagination_for("/api/v1/events/12/holders/5012/photos/")

    @property
    def holder(self) -> TicketHolder:
        """The URL's holder, 404 unless their event belongs to the key's organization."""
        if not hasattr(self, "_holder"):
            holders = ticket_holders_for_organization(self.organization)
            self._holder = get_object_or_404(
                holders, pk=self.kwargs["holder_id"], event_id=self.kwargs["event_id"]
            )
        return self._holder

    def get_queryset(self):
        if self.schema_only:
            return EnrollmentPhoto.objects.none()
        return holder_photos(self.holder)

    @extend_schema(
        summary="List a holder's photos",
        responses={200: PhotoSerializer(many=True), **errors("not_found")},
        examples=[
            ex.response("Accepted", ex.PHOTO_ACCEPTED),
            ex.response("Rejected", ex.PHOTO_REJECTED),
        ],
    )
    def list(self, request, *args, **kwargs):
        """The holder's photos, newest first, each with its processing status."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=image_request(ImageUploadSerializer, ImageBase64Serializer),
        summary="Upload an enrollment photo",
        responses={
            202: PhotoSerializer,
            **errors(
                *IMAGE_INPUT,
                "not_found",
                "consent_required",
                "too_many_photos",
                "ticket_revoked",
                "unavailable",
            ),
        },
        examples=[
            ex.request("Base64 photo", {"image_base64": "/9j/4AAQSkZJRgABAQAAAQABAAD..."}),
            ex.response("Queued", ex.PHOTO_PENDING, 202),
        ],
    )
    def create(self, request, *args, **kwargs):
        """Upload an enrollment photo. It is stored privately and processed in the background:
        poll `status_url` until the status is accepted or rejected (with a reason). Needs the
        holder's consent (409 consent_required); 409 too_many_photos past the per-holder limit;
        409 ticket_revoked."""
        holder = self.holder
        serializer = ImageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        photo = enrollment_photo_create(
            holder=holder, image_bytes=serializer.validated_data["image"]
        )
        body = PhotoSerializer(photo, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["photos"])
@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a photo's status",
        description="The `status_url` of an upload: pending or processing until a worker "
        "judged it, then accepted (the face now opens the gate) or rejected with "
        "`rejection_code` and a message to pass on to the attendee. Poll every few seconds, "
        "or subscribe to the photo.accepted / photo.rejected webhooks instead.",
        responses={200: PhotoSerializer, **errors("not_found")},
        examples=[
            ex.response("Pending", ex.PHOTO_PENDING),
            ex.response("Accepted", ex.PHOTO_ACCEPTED),
            ex.response("Rejected", ex.PHOTO_REJECTED),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a photo",
        description="Delete the photo, its file and its face templates. When it was the "
        "holder's only accepted photo, the holder is no longer enrolled. Recorded in the "
        "audit log.",
        responses={204: None, **errors("not_found")},
    ),
)
class PhotoViewSet(mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ApiViewSet):
    # One photo by id: its processing status, or its deletion.

    serializer_class = PhotoSerializer
    queryset = EnrollmentPhoto.objects.none()
    http_method_names = ["get", "delete", "head", "options"]

    def get_queryset(self):
        if self.schema_only:
            return EnrollmentPhoto.objects.none()
        return photos_for_organization(self.organization)

    def perform_destroy(self, instance):
        enrollment_photo_delete(photo=instance, actor=self.request.user)
