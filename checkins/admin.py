"""The check-in log in the admin: evidence, readable and never editable."""

from django.contrib import admin
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from checkins.dashboard import reason_words
from common.reasons import Reason
from common.thumbnails import thumbnail_response
from events.admin_scoping import OrganizationScopedAdmin
from events.models import CheckIn, CheckInFrame


class ReasonFilter(admin.SimpleListFilter):
    """Reasons by their words, only those the visible log holds (not the raw codes)."""

    title = _("reason")
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        codes = (
            model_admin.get_queryset(request)
            .exclude(reason="")
            .order_by()
            .values_list("reason", flat=True)
            .distinct()
        )
        return sorted(
            ((c, Reason(c).label) for c in codes if c in Reason.values), key=lambda x: str(x[1])
        )

    def queryset(self, request, queryset):
        return queryset.filter(reason=self.value()) if self.value() else queryset


@admin.register(CheckIn)
class CheckInAdmin(OrganizationScopedAdmin):
    """The check-in log is evidence: readable, never editable, from the admin."""

    org_path = "event__organization"
    read_only_for_organizers = True
    # The decision first: on a laptop screen it must not be the column that scrolls away.
    # Seven narrow columns: the whole row fits a 1366 px laptop beside the filters.
    list_display = [
        "when",
        "decision_badge",
        "reason_label",
        "holder",
        "where",
        "score_3",
        "staff",
    ]
    list_display_links = ["when"]
    list_filter = [
        "event",
        "gate",
        "decision",
        ("created_at", admin.DateFieldListFilter),
        ReasonFilter,
        "mode",
    ]
    search_fields = [
        "event__name",
        "gate__name",
        "attendee__name",
        "attendee__ticket_code",
        "idempotency_key",
    ]
    list_select_related = ["event", "gate", "attendee", "staff_user"]
    change_list_template = "admin/events/checkin/change_list.html"
    date_hierarchy = "created_at"

    @admin.display(description=_("Decision"), ordering="decision")
    def decision_badge(self, obj):
        return format_html(
            '<span class="fp-badge fp-{}">{}</span>', obj.decision, obj.get_decision_display()
        )

    @admin.display(description=_("When"), ordering="created_at")
    def when(self, obj):
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("Reason"), ordering="reason")
    def reason_label(self, obj):
        """The reason's short words in the list (the full message on hover and on the page)."""
        if not obj.reason:
            return "—"
        if obj.reason not in Reason.values:
            return obj.reason
        return format_html(
            '<span title="{}">{}</span>', reason_words(obj.reason), Reason(obj.reason).label
        )

    @admin.display(description=_("Reason"), ordering="reason")
    def reason_words(self, obj):
        return reason_words(obj.reason)

    @admin.display(description=_("Ticket holder"), ordering="attendee__name")
    def holder(self, obj):
        if obj.attendee is None:
            return "—"
        return format_html("{}<br><small>{}</small>", obj.attendee.name, obj.attendee.ticket_code)

    @admin.display(description=_("Gate"), ordering="gate__name")
    def where(self, obj):
        return format_html("{}<br><small>{}</small>", obj.gate.name, obj.event.name)

    @admin.display(description=_("Staff"))
    def staff(self, obj):
        if obj.staff_user is None:
            return "—"
        if obj.overrides_id:
            return format_html(
                "{}<br><small>{}</small>",
                obj.staff_user.get_username(),
                _("overrides #%(id)s") % {"id": obj.overrides_id},
            )
        return obj.staff_user.get_username()

    @admin.display(description=_("Score"), ordering="score")
    def score_3(self, obj):
        return "—" if obj.score is None else f"{obj.score:.3f}"

    @admin.display(description=_("Overrides check-in"))
    def overridden_checkin(self, obj):
        # The id, not the row's str(): that would cost queries per line of the log.
        return obj.overrides_id or ""

    # The detail page shows the same words as the list: reason text, rounded score.
    DETAIL_SWAPS = {"decision": "decision_badge", "reason": "reason_words", "score": "score_3"}

    def get_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.fields if f.name != "id"]
        return [*(self.DETAIL_SWAPS.get(n, n) for n in names), "dispute_frames"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Frames kept for disputes"))
    def dispute_frames(self, obj):
        frames = obj.frames.filter(expires_at__gt=timezone.now()) if obj.pk else []
        if not frames:
            return _("None kept (the event keeps no frames, or they have expired).")
        images = format_html_join(
            " ",
            '<a href="{0}" target="_blank" rel="noopener"><img src="{0}" width="240" '
            'alt="frame {1}"></a>',
            ((reverse("admin:events_checkin_frame", args=[obj.pk, f.pk]), f.pk) for f in frames),
        )
        expires = date_format(timezone.localtime(frames[0].expires_at), "DATETIME_FORMAT")
        return format_html("{}<br>{}", images, _("Deleted at %(when)s.") % {"when": expires})

    def get_urls(self):
        view = self.admin_site.admin_view(self.frame_view)
        frame = path("<int:checkin_id>/frames/<int:frame_id>/", view, name="events_checkin_frame")
        return [frame, *super().get_urls()]

    def frame_view(self, request, checkin_id: int, frame_id: int):
        """A kept gate frame, to staff of the check-in's organization only, until it expires."""
        checkin = self.get_queryset(request).filter(pk=checkin_id).first()
        if checkin is None or not self.has_view_permission(request, checkin):
            raise Http404(_("No such check-in."))
        frame = CheckInFrame.objects.filter(
            checkin=checkin, pk=frame_id, expires_at__gt=timezone.now()
        ).first()
        if frame is None:
            raise Http404(_("No such frame, or it has expired."))
        # Re-encoded as JPEG: whatever a client sent is never served as it came.
        return thumbnail_response(frame.image, 1280)
