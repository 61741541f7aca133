"""Public registration pages; everything below <token>/ is scoped to that link's holder.

The URL names keep the namespace "attendees" (templates and links use attendees:register).
"""

from django.urls import path

from pages import registration as views

app_name = "attendees"

urlpatterns = [
    path("", views.register_start, name="start"),
    path("<str:token>/", views.register, name="register"),
    path("<str:token>/status", views.register_status, name="status"),
    path("<str:token>/consent", views.register_consent, name="consent"),
    path("<str:token>/photos", views.register_photo_upload, name="photo-upload"),
    path(
        "<str:token>/photos/<int:photo_id>/thumbnail",
        views.register_photo_thumbnail,
        name="photo-thumbnail",
    ),
    path(
        "<str:token>/photos/<int:photo_id>/delete",
        views.register_photo_delete,
        name="photo-delete",
    ),
    path("<str:token>/delete", views.register_biometrics_delete, name="biometrics-delete"),
    path("<str:token>/export.json", views.register_data_export, name="data-export"),
]
