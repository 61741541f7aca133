"""Enrollment photos: upload under a holder, then follow the status URL until processed."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from api.selectors import (
    holder_photos,
    photos_for_organization,
    ticket_holders_for_organization,
)
from api.serializers import ErrorSerializer
from api.serializers_photos import (
    ImageBase64Serializer,
    ImageInputSerializer,
    ImageUploadSerializer,
    PhotoSerializer,
)
from api.views import EVENT_ID, HOLDER_ID
from api.views_base import ERRORS, IMAGE_ERRORS, ApiViewSet, ImageUploadMixin, image_request
from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import enrollment_photo_delete
from enrollment.workflow import enrollment_photo_create


@extend_schema(tags=["photos"], parameters=[EVENT_ID, HOLDER_ID])
class HolderPhotoViewSet(ImageUploadMixin, mixins.ListModelMixin, ApiViewSet):
    serializer_class = PhotoSerializer
    queryset = EnrollmentPhoto.objects.none()

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

    @extend_schema(responses={200: PhotoSerializer(many=True), **ERRORS})
    def list(self, request, *args, **kwargs):
        """The holder's photos, newest first, each with its processing status."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=image_request(ImageUploadSerializer, ImageBase64Serializer),
        responses={
            202: PhotoSerializer,
            409: ErrorSerializer,
            **IMAGE_ERRORS,
        },
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


@extend_schema(tags=["photos"], responses={200: PhotoSerializer, **ERRORS})
class PhotoViewSet(mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ApiViewSet):
    """A photo by id: its processing status, or its deletion (embeddings and file too)."""

    serializer_class = PhotoSerializer
    queryset = EnrollmentPhoto.objects.none()
    http_method_names = ["get", "delete", "head", "options"]

    def get_queryset(self):
        if self.schema_only:
            return EnrollmentPhoto.objects.none()
        return photos_for_organization(self.organization)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        enrollment_photo_delete(photo=instance, actor=self.request.user)
