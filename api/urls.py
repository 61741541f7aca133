from django.urls import re_path
from rest_framework.routers import SimpleRouter

from api.errors import not_found_view
from api.views import EventViewSet, TicketHolderViewSet
from api.views_checkins import CheckInViewSet
from api.views_face import FaceViewSet
from api.views_gates import GateViewSet
from api.views_photos import HolderPhotoViewSet, PhotoViewSet

app_name = "api"

router = SimpleRouter()
router.register("events", EventViewSet, basename="event")
router.register(r"events/(?P<event_id>\d+)", FaceViewSet, basename="face")
router.register(r"events/(?P<event_id>\d+)/holders", TicketHolderViewSet, basename="holder")
router.register(r"events/(?P<event_id>\d+)/gates", GateViewSet, basename="gate")
router.register(
    r"events/(?P<event_id>\d+)/holders/(?P<holder_id>\d+)/photos",
    HolderPhotoViewSet,
    basename="holder-photo",
)
router.register("photos", PhotoViewSet, basename="photo")
router.register("checkins", CheckInViewSet, basename="checkin")

# [\s\S], not ".": a URL with an encoded newline is an API URL too (JSON 404, not the HTML one).
urlpatterns = [*router.urls, re_path(r"^[\s\S]*$", not_found_view)]
