"""The one check of uploaded images in the web process (registration form, API, gate page):
size limits, then the header and the file's structure, never a decoded pixel. The workers decode
(recognition.ml.runtime.imageio.decode_image runs the same header check first), so a bad upload
gets its precise reason before any face work, even when no worker is running."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from common.reasons import Reason, ReasonError
from recognition.ml.runtime.imageio import ImageDecodeError, image_size_check


def upload_size_check(size: int) -> None:
    """Before reading an upload: a file over the limit is refused unread."""
    if size > settings.FACEPASS_UPLOAD_MAX_BYTES:
        raise ReasonError(Reason.TOO_LARGE)


def image_upload_check(data: bytes) -> tuple[int, int]:
    """(width, height) of an acceptable image, else ReasonError with its reason."""
    upload_size_check(len(data))
    if not data:
        raise ReasonError(Reason.NOT_AN_IMAGE, str(_("The file is empty.")))
    try:
        return image_size_check(
            data,
            max_bytes=settings.FACEPASS_UPLOAD_MAX_BYTES,
            max_pixels=settings.FACEPASS_UPLOAD_MAX_PIXELS,
        )
    except ImageDecodeError as exc:
        raise ReasonError(exc.code) from None
