"""JPEG thumbnails of private images (selfies, kept gate frames), re-encoded so that whatever a
client uploaded is never served as it came."""

from __future__ import annotations

import io

from django.http import Http404, HttpResponse
from PIL import Image, ImageOps


def render_thumbnail(field_file, size: int) -> bytes | None:
    """A JPEG no larger than size x size, upright per EXIF; None if the file is unusable."""
    if not field_file:
        return None
    try:
        with field_file.open("rb") as fh, Image.open(fh) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((size, size))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=85)
    except (OSError, ValueError):
        return None
    return out.getvalue()


def thumbnail_response(field_file, size: int) -> HttpResponse:
    """The thumbnail as a private, uncached JPEG response; 404 when the file is unusable."""
    data = render_thumbnail(field_file, size)
    if data is None:
        raise Http404("Photo file is missing or unreadable.")
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response
