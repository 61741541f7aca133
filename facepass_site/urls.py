from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from facepass_site.health import healthz
from pages.home import home
from pages.photos import photo_thumbnail

# Request fields over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 (JSON for API clients), not a bare 400.
handler400 = "facepass_site.body_limits.bad_request_view"

admin.site.site_header = _("FacePass organizer admin")
admin.site.site_title = "FacePass"

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    # The language switcher of base.html posts here (sets the language cookie, goes back).
    path("i18n/", include("django.conf.urls.i18n")),
    # Browsers ask for /favicon.ico on pages without a <link rel="icon"> (admin, JSON, docs).
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("favicon.svg"), permanent=True),
        name="favicon",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("photos/<int:photo_id>/thumbnail", photo_thumbnail, name="photo-thumbnail"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("gate/", include("pages.gate_urls")),
    path("register/", include("pages.registration_urls")),
]
