from django.contrib import admin
from django.urls import include, path

from attendees.views import photo_thumbnail
from facepass_site.health import healthz

admin.site.site_header = "FacePass organizer admin"
admin.site.site_title = "FacePass"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("photos/<int:photo_id>/thumbnail", photo_thumbnail, name="photo-thumbnail"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("gate/", include("events.urls")),
]
