"""The error responses each API operation documents, built from the one vocabulary of reasons
(common.reasons) plus the few codes of the API's own plumbing (authentication, validation,
rate limit): every status lists its codes with their real messages, and every code has an
example body, so Swagger UI shows what the client will actually read."""

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from api.errors import error_body
from api.serializers import ErrorSerializer
from common.reasons import Reason, reason_status, reason_text

# Parameters for the messages that take them, as a real refusal would fill them in.
EXAMPLE_PARAMS = {
    Reason.FACE_ONLY_CAPACITY: {"holders": "48,000", "tpir": "41%"},
    Reason.UNCHANGED: {"decision": "admit"},
}
STATUS_TITLES = {
    400: "Invalid input",
    401: "Missing, invalid or revoked API key",
    404: "Not found in this organization",
    409: "Refused: the current state does not allow it",
    413: "Image too large",
    422: "Unusable image or ticket: nothing was judged or recorded",
    429: "Rate limited",
    503: "Face recognition unavailable",
}
# Every operation can answer these: the key is checked, then counted, then the body read.
COMMON = ("not_authenticated", "authentication_failed", "rate_limited")


def _rate_text() -> str:
    rate = settings.FACEPASS_RATE_API_KEY
    if rate is None:
        return _("Too many requests for this API key (no limit is set on this server).")
    limit, seconds = rate
    return _(
        "Too many requests for this API key: at most %(limit)s per %(seconds)s seconds. "
        "Expected available in 12 seconds."
    ) % {"limit": limit, "seconds": seconds}


def _api_codes() -> dict[str, tuple[int, str, dict]]:
    """Codes that are not reasons: (status, message, field errors)."""
    return {
        "invalid": (400, "Invalid input.", {"ticket_code": ["This field is required."]}),
        "parse_error": (400, "JSON parse error - Expecting value: line 1 column 1 (char 0)", {}),
        "not_authenticated": (401, "Authentication credentials were not provided.", {}),
        "authentication_failed": (401, "Invalid or revoked API key.", {}),
        "not_found": (404, "Not found.", {}),
        "rate_limited": (429, _rate_text(), {}),
    }


def _code_info(code: str) -> tuple[int, str, dict]:
    api = _api_codes()
    if code in api:
        return api[code]
    reason = Reason(code)
    return reason_status(reason), reason_text(reason, **EXAMPLE_PARAMS.get(reason, {})), {}


def errors(*codes: str) -> dict[int, OpenApiResponse]:
    """Responses for these error codes (and the COMMON ones), one per HTTP status: the
    description lists each code with its message; each code is an example."""
    by_status: dict[int, list[tuple[str, str, dict]]] = {}
    for code in dict.fromkeys((*codes, *COMMON)):
        status, message, fields = _code_info(code)
        by_status.setdefault(status, []).append((code, message, fields))
    responses = {}
    for status, entries in sorted(by_status.items()):
        lines = "\n".join(f"- `{code}`: {message}" for code, message, _fields in entries)
        if status == 429:
            lines += "\n\nWait the seconds of the `Retry-After` header, then retry."
        responses[status] = OpenApiResponse(
            ErrorSerializer,
            description=f"{STATUS_TITLES[status]}.\n\n{lines}",
            examples=[
                OpenApiExample(
                    code,
                    value=error_body(code, message, fields),
                    response_only=True,
                    status_codes=[str(status)],
                )
                for code, message, fields in entries
            ],
        )
    return responses


IMAGE_INPUT = ("invalid", "parse_error", "invalid_base64", "not_an_image", "truncated")
IMAGE_INPUT += ("too_large", "too_many_pixels")
FACE_INPUT = (*IMAGE_INPUT, "no_face", "multiple_faces", "unavailable")
