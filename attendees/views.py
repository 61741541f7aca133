import io

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from PIL import Image, ImageOps

from attendees.selectors import enrollment_photo_for_user

THUMBNAIL_SIZES = (64, 96, 160, 320)


@never_cache
@staff_member_required
def photo_thumbnail(request, photo_id: int):
    """Enrollment photos are private: served only to staff of the owning organization."""
    photo = enrollment_photo_for_user(request.user, photo_id)
    if photo is None or not photo.image:
        raise Http404("No such photo.")
    data = render_thumbnail(photo, _requested_size(request.GET.get("size")))
    if data is None:
        raise Http404("Photo file is missing or unreadable.")
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


def _requested_size(raw: str | None) -> int:
    try:
        wanted = int(raw or 160)
    except ValueError:
        wanted = 160
    return min(THUMBNAIL_SIZES, key=lambda s: abs(s - wanted))


def render_thumbnail(photo, size: int) -> bytes | None:
    """A JPEG no larger than size x size, upright per EXIF; None if the file is unusable."""
    try:
        with photo.image.open("rb") as fh, Image.open(fh) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((size, size))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=85)
    except (OSError, ValueError):
        return None
    return out.getvalue()
