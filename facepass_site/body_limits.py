"""Refuse request bodies larger than FACEPASS_REQUEST_MAX_BYTES before reading a byte of them.

Django caps form fields and JSON (DATA_UPLOAD_MAX_MEMORY_SIZE) but streams files of any size
to disk first; this answers 413 from the declared Content-Length instead. Each endpoint still
checks its own, smaller, limits (one photo, three gate frames).
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.views.defaults import bad_request


def _wants_json(request) -> bool:
    return (
        request.path.startswith(("/api/", "/gate/"))
        or "application/json" in request.headers.get("Accept", "")
        or "application/json" in request.headers.get("Content-Type", "")
    )


def _too_large(request, message: str) -> HttpResponse:
    if _wants_json(request):
        response = JsonResponse({"code": "too_large", "message": message, "fields": {}}, status=413)
    else:
        response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    return response


def bad_request_view(request, exception=None):
    """handler400: form fields or JSON over DATA_UPLOAD_MAX_MEMORY_SIZE are a 413 (JSON where
    the client speaks JSON), not Django's generic 400 page; other bad requests are unchanged."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _too_large(
            request,
            f"The request's fields are larger than the limit of {limit} bytes: "
            "send photos as files.",
        )
    return bad_request(request, exception)


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.FACEPASS_REQUEST_MAX_BYTES
        if length > limit:
            response = _too_large(
                request, f"The request is larger than the limit of {limit} bytes."
            )
            response["Connection"] = "close"  # the unread body must not be parsed as a request
            return response
        return self.get_response(request)
