"""One JSON error shape for the whole API: {"code": ..., "message": ..., "fields": {...}}."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from common.reasons import Reason, ReasonError
from common.unavailable import MESSAGES, unavailable_part
from recognition.frames import GateUnavailable
from recognition.selectors import NoActiveModel

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The change conflicts with the current data; reload and retry."


class Unavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = "Face recognition is unavailable right now; retry shortly."


class ApiError(exceptions.APIException):
    """A 4xx whose code is more precise than DRF's built-in exceptions allow."""

    def __init__(self, status_code: int, code: str, message: str):
        self.status_code = status_code
        super().__init__(message, code)


def reason_api_error(exc: ReasonError) -> ApiError:
    """A refusal of the vocabulary, with its HTTP status and message from common.reasons."""
    return ApiError(exc.status, exc.code, exc.message)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def _translate(exc):
    if isinstance(exc, (GateUnavailable, NoActiveModel)):
        return Unavailable(str(exc))
    part = unavailable_part(exc)
    if part is not None:
        logger.error("%s unavailable", part, exc_info=exc)
        return Unavailable(MESSAGES[part])
    if isinstance(exc, RequestDataTooBig):
        # Django caps non-file request bodies (DATA_UPLOAD_MAX_MEMORY_SIZE), base64 JSON too.
        return reason_api_error(
            ReasonError(
                Reason.TOO_LARGE,
                "The request body is too large: send large images as a multipart file.",
            )
        )
    if isinstance(exc, ReasonError):
        return reason_api_error(exc)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, IntegrityError):
        return Conflict()
    return exc


def _plain(detail):
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_plain(v) for v in detail]
    return str(detail)


def _messages(detail, prefix: str = "") -> list[str]:
    """A field's errors as the documented list of strings: errors of list items or nested
    objects (images_base64[3], ...) are flattened with their position in front."""
    if isinstance(detail, dict):
        return [m for k, v in detail.items() for m in _messages(v, f"{prefix}{k}: ")]
    if isinstance(detail, list):
        return [m for v in detail for m in _messages(v, prefix)]
    return [f"{prefix}{detail}"]


def api_exception_handler(exc, context):
    exc = _translate(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug, not bad input: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        detail = _plain(exc.detail)
        if not isinstance(detail, dict):
            detail = {"non_field_errors": detail}
        fields = {name: _messages(errors) for name, errors in detail.items()}
        message = "Invalid input."
        if list(fields) == ["non_field_errors"] and fields["non_field_errors"]:
            message = str(fields["non_field_errors"][0])
        response.data = error_body("invalid", message, fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, _plain(getattr(exc, "detail", str(exc))))
    return response


@csrf_exempt  # API clients send no CSRF token: their POST to a wrong URL is a 404, not a 403
def not_found_view(request, *args, **kwargs):
    """JSON 404 for any /api/v1/ URL that matches no endpoint."""
    message = "No such endpoint."
    if not request.path.endswith("/"):
        message += " API URLs end with a slash."
    return JsonResponse(error_body("not_found", message), status=404)
