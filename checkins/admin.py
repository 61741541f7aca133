"""The check-in log in the admin: evidence, readable and never editable."""

from django.contrib import admin
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from common.thumbnails import thumbnail_response
from events.admin_scoping import OrganizationScopedAdmin
from events.models import CheckIn, CheckInFrame


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
        if frame is None:
            raise Http404("No such frame, or it has expired.")
        # Re-encoded as JPEG: whatever a client sent is never served as it came.
        return thumbnail_response(frame.image, 1280)
