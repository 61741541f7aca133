from django.urls import path

from pages import gate as gate_views

urlpatterns = [
    path("", gate_views.gate_list, name="gate-list"),
    path("<int:gate_id>/", gate_views.gate_page, name="gate-page"),
    path("<int:gate_id>/check", gate_views.gate_check, name="gate-check"),
    path("<int:gate_id>/challenge", gate_views.gate_challenge, name="gate-challenge"),
    path(
        "<int:gate_id>/checkins/<int:checkin_id>/override",
        gate_views.gate_override,
        name="gate-override",
    ),
    path(
        "<int:gate_id>/photos/<int:photo_id>",
        gate_views.gate_holder_photo,
        name="gate-holder-photo",
    ),
]
