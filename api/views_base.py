"""What every API view shares: JSON only, org scoping, pagination, documented errors."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer

from api.parsers import JSONParser
from api.serializers import ErrorSerializer

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid or revoked API key"),
    404: OpenApiResponse(ErrorSerializer, description="Not found in this organization"),
    429: OpenApiResponse(
        ErrorSerializer,
        description="rate_limited: too many requests for this API key (FACEPASS_RATE_API_KEY); "
        "retry after the Retry-After header's seconds",
    ),
}

IMAGE_ERRORS = {
    **ERRORS,
    400: OpenApiResponse(
        ErrorSerializer,
        description="Invalid input: invalid (field errors), invalid_base64, not_an_image, "
        "truncated",
    ),
    413: OpenApiResponse(ErrorSerializer, description="too_large or too_many_pixels"),
}

FACE_ERRORS = {
    **IMAGE_ERRORS,
    422: OpenApiResponse(
        ErrorSerializer,
        description="no_face, multiple_faces, unknown_ticket or other_event (a ticket of "
        "another event of this organization)",
    ),
    503: OpenApiResponse(
        ErrorSerializer, description="unavailable: no gate worker answered, or no active model"
    ),
}


def image_request(upload_class, base64_class) -> dict:
    """The request body of an image endpoint in both accepted content types: a multipart form
    with file fields (Swagger UI shows a file picker), or JSON with base64 fields."""
    return {"multipart/form-data": upload_class, "application/json": base64_class}


class ApiPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ApiViewSet(viewsets.GenericViewSet):
    """JSON in, JSON out (never the browsable HTML API); PUT is not offered, PATCH is."""

    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    pagination_class = ApiPagination
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @property
    def organization(self):
        return self.request.auth.organization

    @property
    def schema_only(self) -> bool:
        """True while drf-spectacular inspects the view (no request, no API key)."""
        return getattr(self, "swagger_fake_view", False)


class ImageUploadMixin:
    """Photos come as multipart files or as base64 in JSON."""

    parser_classes = [JSONParser, MultiPartParser]
