"""The organizer's event screens: events with their gates, and deleting an event's biometric
data (privacy services span every app, so this admin lives in the top layer)."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.template.response import TemplateResponse

from events.admin_scoping import OrganizationScopedAdmin, ScopedInline
from events.models import Event, Gate
from privacy.services import event_biometrics_delete, event_face_data_counts


class GateInline(ScopedInline):
    model = Gate
    fields = ["name", "mode", "is_active"]


@admin.register(Event)
class EventAdmin(OrganizationScopedAdmin):
    org_path = "organization"
    scoped_foreign_keys = {"organization": ""}
    list_display = ["name", "organization", "venue", "starts_at", "status", "security_level"]
    list_filter = ["status", "security_level", "entry_policy"]
    search_fields = ["name", "venue", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    list_select_related = ["organization"]
    inlines = [GateInline]
    actions = ["delete_biometric_data"]

    @admin.action(
        description="Delete all biometric data of the selected events", permissions=["change"]
    )
    def delete_biometric_data(self, request, queryset):
        """Asks first (a page listing what goes), then deletes on the confirming POST."""
        events = list(queryset.select_related("organization"))
        if request.POST.get("post") == "yes":
            for event in events:
                deleted = event_biometrics_delete(event=event, actor=request.user)
                self.message_user(
                    request,
                    f"{event}: deleted {deleted['photos']} photos, {deleted['embeddings']} face "
                    f"templates and {deleted['gate_frames']} gate frames.",
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete all biometric data?",
            "opts": self.model._meta,
            "rows": [(event, event_face_data_counts(event)) for event in events],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "delete_biometric_data",
        }
        return TemplateResponse(
            request, "admin/events/event/delete_biometrics_confirm.html", context
        )

    # Deleting an event must not leave its selfies on disk: the face data goes through the
    # service (files removed, deletion audited) before the rows cascade.
    def delete_model(self, request, obj):
        with transaction.atomic():
            event_biometrics_delete(event=obj, actor=request.user)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for event in queryset:
                event_biometrics_delete(event=event, actor=request.user)
            super().delete_queryset(request, queryset)
