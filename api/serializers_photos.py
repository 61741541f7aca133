"""Serializers for enrollment photos, consent and registration links."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.images import image_bytes_from
from attendees.models import EnrollmentPhoto


class ImageInputSerializer(serializers.Serializer):
    """One photo, as a multipart file or as base64 in JSON; validated data has its bytes."""

    image = serializers.FileField(
        required=False,
        allow_empty_file=True,  # an empty file is reported as not_an_image, like other junk
        help_text="The image file (multipart/form-data).",
    )
    image_base64 = serializers.CharField(
        required=False,
        help_text="The image as base64 (application/json); a data: URL prefix is allowed.",
    )

    def validate(self, attrs):
        attrs["image"] = image_bytes_from(attrs.get("image"), attrs.pop("image_base64", None))
        return attrs


class PhotoSerializer(serializers.ModelSerializer):
    status_url = serializers.SerializerMethodField()
    rejection_code = serializers.CharField(
        read_only=True,
        help_text="Empty unless rejected; else a stable code (no_face, multiple_faces, "
        "face_too_small, too_blurred, too_dark, overexposed, pose_not_frontal, not_an_image, "
        "truncated, file_missing, consent_required, ...).",
    )
    quality = serializers.DictField(
        child=serializers.FloatField(),
        read_only=True,
        help_text="Measured face figures (size, sharpness, brightness, ...) once processed.",
    )

    class Meta:
        model = EnrollmentPhoto
        fields = [
            "id",
            "holder",
            "status",
            "rejection_code",
            "rejection_message",
            "quality",
            "created_at",
            "processed_at",
            "status_url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_status_url(self, photo) -> str:
        path = reverse("api:photo-detail", kwargs={"pk": photo.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ConsentSerializer(serializers.Serializer):
    text_version = serializers.CharField(
        max_length=40, help_text="Version of the consent text the attendee accepted."
    )


class RegistrationLinkSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


class BiometricsDeletedSerializer(serializers.Serializer):
    deleted_photos = serializers.IntegerField()
