"""What every API view shares: JSON only, org scoping, pagination, documented errors."""

from django.shortcuts import get_object_or_404
from rest_framework import viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer

from api.docs_examples import page
from api.parsers import JSONParser
from api.selectors import events_for_organization
from events.models import Event


def image_request(upload_class, base64_class) -> dict:
    """The request body of an image endpoint in both accepted content types: a multipart form
    with file fields (Swagger UI shows a file picker), or JSON with base64 fields."""
    return {"multipart/form-data": upload_class, "application/json": base64_class}


class ApiPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    example_path = "/api/v1/"  # the list's own URL, for the schema's examples

    def get_paginated_response_schema(self, schema):
        documented = super().get_paginated_response_schema(schema)
        for name, value in page(self.example_path, 1234).items():
            documented["properties"][name]["example"] = value
        return documented


def pagination_for(path: str) -> type[ApiPagination]:
    """The API's pagination, documented with the list's real URL (path of the list)."""
    return type("ApiPagination", (ApiPagination,), {"example_path": path})


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


class EventScopedViewSet(ApiViewSet):
    """A viewset under /events/{event_id}/ (holders, gates)."""

    @property
    def event(self) -> Event:
        """The URL's event, 404 unless it belongs to the key's organization."""
        if not hasattr(self, "_event"):
            events = events_for_organization(self.organization)
            self._event = get_object_or_404(events, pk=self.kwargs["event_id"])
        return self._event


class ImageUploadMixin:
    # Photos come as multipart files or as base64 in JSON. (A comment, not a docstring:
    # drf-spectacular would show a docstring as the text of every operation of the view.)
    parser_classes = [JSONParser, MultiPartParser]
