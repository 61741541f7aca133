"""Enrollment photos for organizers: private files served only to staff of the owning
organization, re-encoded as thumbnails."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.views.decorators.cache import never_cache

from attendees.selectors import enrollment_photo_for_user
from common.thumbnails import thumbnail_response

THUMBNAIL_SIZES = (64, 96, 160, 320)


@never_cache
@staff_member_required
def photo_thumbnail(request, photo_id: int):
    photo = enrollment_photo_for_user(request.user, photo_id)
    if photo is None or not photo.image:
        raise Http404("No such photo.")
    return thumbnail_response(photo.image, _requested_size(request.GET.get("size")))


def _requested_size(raw: str | None) -> int:
    try:
        wanted = int(raw or 160)
    except ValueError:
        wanted = 160
    return min(THUMBNAIL_SIZES, key=lambda s: abs(s - wanted))
