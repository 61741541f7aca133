"""Photos arriving at the API, as a multipart file or base64 in JSON, checked in the web
process before any face work (common.images: limits, header and structure, never a decoded
pixel): a bad upload costs no trip to a worker, and gets its precise 4xx even when no worker
is running."""

import base64
import binascii
import re

from django.conf import settings
from rest_framework.exceptions import ValidationError

from common.images import image_upload_check, upload_size_check
from common.reasons import Reason, ReasonError

DATA_URL_PREFIX = re.compile(r"^data:image/[\w.+-]+;base64,", re.IGNORECASE)


def _read_upload(upload) -> bytes:
    upload_size_check(upload.size)  # before reading: the file may be huge
    return upload.read()


def _decode_base64(encoded: str) -> bytes:
    # MIME encoders wrap lines and browsers hand out data: URLs; both are common in practice.
    text = "".join(DATA_URL_PREFIX.sub("", encoded, count=1).split())
    if len(text) > 4 * ((settings.FACEPASS_UPLOAD_MAX_BYTES + 2) // 3):
        raise ReasonError(Reason.TOO_LARGE)  # more base64 than the largest photo takes
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ReasonError(Reason.INVALID_BASE64) from None


def image_bytes_from(upload, encoded: str | None) -> bytes:
    """The image bytes from exactly one of the two inputs, else ReasonError or ValidationError
    saying what is wrong."""
    if (upload is None) == (encoded is None):
        raise ValidationError(
            {"image": ["Send one image: a multipart file 'image' or JSON 'image_base64'."]}
        )
    data = _read_upload(upload) if upload is not None else _decode_base64(encoded)
    image_upload_check(data)
    return data
