"""Photos arriving at the API, as a multipart file or base64 in JSON, checked in the web
process before any face work: a bad upload costs no trip to a worker, and gets its precise
4xx even when no worker is running."""

import base64
import binascii
import re

from django.conf import settings
from rest_framework.exceptions import ValidationError

from api.errors import ApiError
from recognition.ml.runtime.imageio import ImageDecodeError, decode_image

DATA_URL_PREFIX = re.compile(r"^data:image/[\w.+-]+;base64,", re.IGNORECASE)
DECODE_STATUS = {"too_large": 413, "too_many_pixels": 413}


def _too_large() -> ApiError:
    limit = settings.FACEPASS_UPLOAD_MAX_BYTES
    return ApiError(413, "too_large", f"The image is larger than the limit of {limit} bytes.")


def _read_upload(upload) -> bytes:
    if upload.size > settings.FACEPASS_UPLOAD_MAX_BYTES:
        raise _too_large()  # before reading: the file may be huge
    return upload.read()


def _decode_base64(encoded: str) -> bytes:
    # MIME encoders wrap lines and browsers hand out data: URLs; both are common in practice.
    text = "".join(DATA_URL_PREFIX.sub("", encoded, count=1).split())
    if len(text) > 4 * ((settings.FACEPASS_UPLOAD_MAX_BYTES + 2) // 3):
        raise _too_large()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", "image_base64 is not valid base64.") from None


def image_bytes_from(upload, encoded: str | None) -> bytes:
    """The image bytes from exactly one of the two inputs, or an ApiError saying what is wrong."""
    if (upload is None) == (encoded is None):
        raise ValidationError(
            {"image": ["Send one image: a multipart file 'image' or JSON 'image_base64'."]}
        )
    data = _read_upload(upload) if upload is not None else _decode_base64(encoded)
    try:
        decode_image(
            data,
            max_bytes=settings.FACEPASS_UPLOAD_MAX_BYTES,
            max_pixels=settings.FACEPASS_UPLOAD_MAX_PIXELS,
        )
    except ImageDecodeError as exc:
        raise ApiError(DECODE_STATUS.get(exc.code, 400), exc.code, exc.message) from None
    return data
