from django.urls import re_path
from rest_framework.routers import SimpleRouter

from api.errors import not_found_view
from api.views import EventViewSet, TicketHolderViewSet

app_name = "api"

router = SimpleRouter()
router.register("events", EventViewSet, basename="event")
router.register(r"events/(?P<event_id>\d+)/holders", TicketHolderViewSet, basename="holder")

urlpatterns = [*router.urls, re_path(r"^.*$", not_found_view)]
