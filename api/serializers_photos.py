"""Serializers for enrollment photos, consent and registration links."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.images import image_bytes_from
from attendees.models import EnrollmentPhoto

IMAGE_FILE_HELP = "A JPEG, PNG or WebP photo file (multipart/form-data)."
IMAGE_BASE64_HELP = (
    'The photo as base64 (application/json), e.g. "/9j/4AAQSkZJRg..."; a data: URL '
    'prefix ("data:image/jpeg;base64,...") and line breaks are allowed.'
)


@extend_schema_field(OpenApiTypes.BINARY)
class ImageFileField(serializers.FileField):
    """A file upload, declared `format: binary` so Swagger UI offers a file picker (DRF's
    FileField is documented as a URI, the form it has in responses)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", IMAGE_FILE_HELP)
        # An empty file is reported as not_an_image, like other junk.
        super().__init__(allow_empty_file=True, **kwargs)


class ImageInputSerializer(serializers.Serializer):
    """One photo, as a multipart file or as base64 in JSON; validated data has its bytes."""

    image = ImageFileField(required=False)
    image_base64 = serializers.CharField(required=False, help_text=IMAGE_BASE64_HELP)

    def validate(self, attrs):
        attrs["image"] = image_bytes_from(attrs.get("image"), attrs.pop("image_base64", None))
        return attrs


# The request bodies as documented, one per content type (validation uses the classes above,
# which accept both): a multipart form has the file fields, a JSON body the base64 ones.


class ImageUploadSerializer(ImageInputSerializer):
    """One photo as a file in a multipart/form-data body."""

    image = ImageFileField()
    image_base64 = None


class ImageBase64Serializer(ImageInputSerializer):
    """One photo as base64 in a JSON body."""

    image = None
    image_base64 = serializers.CharField(help_text=IMAGE_BASE64_HELP)


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
