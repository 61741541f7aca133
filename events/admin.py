from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from attendees.privacy import event_biometrics_delete, event_face_data_counts
from attendees.views import render_thumbnail
from events.admin_scoping import OrganizationScopedAdmin, ScopedInline
from events.models import CheckIn, CheckInFrame, Event, Gate, Membership, Organization


class MembershipInline(ScopedInline):
    model = Membership
    raw_id_fields = ["user"]

    # Organizers see who has access; granting access stays with the operator.
    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    org_path = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]

    def has_add_permission(self, request, *args):
        # New tenants are created by the operator, not by an organizer.
        return request.user.is_superuser


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


@admin.register(CheckIn)
class CheckInAdmin(OrganizationScopedAdmin):
    """The check-in log is evidence: readable, never editable, from the admin."""

    org_path = "event__organization"
    read_only_for_organizers = True
    list_display = [
        "created_at",
        "event",
        "gate",
        "attendee",
        "decision",
        "reason",
        "score",
        "staff_user",
        "overridden_checkin",
    ]
    list_filter = ["decision", "mode", "reason"]
    search_fields = ["attendee__name", "attendee__ticket_code", "idempotency_key"]
    list_select_related = ["event", "gate", "attendee", "staff_user"]
    date_hierarchy = "created_at"

    @admin.display(description="Overrides check-in")
    def overridden_checkin(self, obj):
        # The id, not the row's str(): that would cost queries per line of the log.
        return obj.overrides_id or ""

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in self.model._meta.fields), "dispute_frames"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Frames kept for disputes")
    def dispute_frames(self, obj):
        frames = obj.frames.filter(expires_at__gt=timezone.now()) if obj.pk else []
        if not frames:
            return "None kept (the event keeps no frames, or they have expired)."
        images = format_html_join(
            " ",
            '<a href="{0}" target="_blank" rel="noopener"><img src="{0}" width="240" '
            'alt="frame {1}"></a>',
            ((reverse("admin:events_checkin_frame", args=[obj.pk, f.pk]), f.pk) for f in frames),
        )
        expires = date_format(timezone.localtime(frames[0].expires_at), "DATETIME_FORMAT")
        return format_html("{}<br>Deleted at {}.", images, expires)

    def get_urls(self):
        view = self.admin_site.admin_view(self.frame_view)
        frame = path("<int:checkin_id>/frames/<int:frame_id>/", view, name="events_checkin_frame")
        return [frame, *super().get_urls()]

    def frame_view(self, request, checkin_id: int, frame_id: int):
        """A kept gate frame, to staff of the check-in's organization only, until it expires."""
        checkin = self.get_queryset(request).filter(pk=checkin_id).first()
        if checkin is None or not self.has_view_permission(request, checkin):
            raise Http404("No such check-in.")
        frame = CheckInFrame.objects.filter(
            checkin=checkin, pk=frame_id, expires_at__gt=timezone.now()
        ).first()
        # Re-encoded as JPEG: whatever a client sent is never served as it came.
        data = render_thumbnail(frame, 1280) if frame is not None else None
        if data is None:
            raise Http404("No such frame, or it has expired.")
        response = HttpResponse(data, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        return response
