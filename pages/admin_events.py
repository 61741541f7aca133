"""The organizer's event screens: events with their gates, and deleting an event's biometric
data (privacy services span every app, so this admin lives in the top layer)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from checkins.selectors import face_only_capacity
from checkins.services import face_only_opening_check, gate_switch_on_check
from common.reasons import ReasonError
from events.admin_scoping import OrganizationScopedAdmin, ScopedInline
from events.models import Event, Gate
from pages.admin_dashboard import event_dashboard_view
from privacy.services import event_biometrics_delete, event_face_data_counts

PLANNING_SIZES = (1_000, 10_000, 100_000)
CAPACITY_COLUMNS = (
    _("Enrolled holders"),
    _("Strangers admitted"),
    _("Holders admitted without review"),
    _("Holders reviewed"),
    _("Strangers reviewed"),
)


class EventAdminForm(forms.ModelForm):
    confirm_face_only = forms.BooleanField(
        required=False,
        label=_("Open face-only gates anyway"),
        help_text=_(
            "Needed to open the gates when this event has more enrolled holders than face-only "
            "gates handle well at its security level (see Face-only capacity)."
        ),
    )

    class Meta:
        model = Event
        fields = "__all__"  # noqa: DJ007  (the admin passes its own field list)

    def clean(self):
        data = super().clean()
        opening = data.get("status") == Event.Status.GATES_OPEN
        if opening and self.instance.pk and self.instance.status != Event.Status.GATES_OPEN:
            try:
                face_only_opening_check(
                    self.instance, confirmed=bool(data.get("confirm_face_only"))
                )
            except ReasonError as exc:
                self.add_error("confirm_face_only", exc.message)
        return data


def _capacity_row(capacity) -> tuple:
    return (
        f"{capacity.holders:,}",
        f"{capacity.expected_fpir:.2%}",
        f"{capacity.expected_tpir:.0%}",
        f"{capacity.expected_review:.0%}",
        f"{capacity.expected_stranger_review:.0%}",
    )


class GateInlineFormSet(forms.BaseInlineFormSet):
    """A face-only gate switched on (added active, turned on, or turned face-only) while the
    event's gates are open asks for the same confirmation as opening the gates, as in the API."""

    def clean(self):
        super().clean()
        event = self.instance
        if event.pk is None or event.status != Event.Status.GATES_OPEN:
            return  # opening the gates later asks (EventAdminForm)
        confirmed = bool(self.data.get("confirm_face_only"))
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data.get("is_active") or data.get("DELETE") or not form.has_changed():
                continue
            try:
                gate_switch_on_check(event, data.get("mode", ""), confirmed=confirmed)
            except ReasonError as exc:
                form.add_error("is_active", exc.message)


class GateInline(ScopedInline):
    model = Gate
    formset = GateInlineFormSet
    fields = ["name", "mode", "is_active"]


@admin.register(Event)
class EventAdmin(OrganizationScopedAdmin):
    org_path = "organization"
    scoped_foreign_keys = {"organization": ""}
    list_display = [
        "name",
        "organization",
        "venue",
        "starts_at",
        "status",
        "security_level",
        "dashboard_link",
    ]
    list_filter = ["status", "security_level", "entry_policy"]
    search_fields = ["name", "venue", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    list_select_related = ["organization"]
    inlines = [GateInline]
    actions = ["delete_biometric_data"]
    form = EventAdminForm
    readonly_fields = ["face_only_capacity"]
    change_form_template = "admin/events/event/change_form.html"

    @admin.display(description=_("Overview"))
    def dashboard_link(self, event):
        url = reverse("admin:events_event_dashboard", args=[event.pk])
        return format_html('<a href="{}">{}</a>', url, _("Dashboard"))

    def get_urls(self):
        view = self.admin_site.admin_view(self.dashboard_view)
        return [
            path("<int:event_id>/dashboard/", view, name="events_event_dashboard"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request, event_id: int):
        event = self.get_queryset(request).filter(pk=event_id).first()
        if event is None or not self.has_view_permission(request, event):
            raise Http404(_("No such event."))
        return event_dashboard_view(self, request, event)

    @admin.display(description=_("Face-only capacity"))
    def face_only_capacity(self, event):
        """Expected outcomes of a face-only gate now and at planning sizes (calibrated model)."""
        now = face_only_capacity(event) if event.pk else None
        if now is None:
            return _("No calibrated active face model: face-only gates send every match to review.")
        sizes = [now] + [face_only_capacity(event, holders=size) for size in PLANNING_SIZES]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (_capacity_row(c) for c in sizes),
        )
        verdict = (
            _("Face-only gates work at this size: most holders pass without a staff check.")
            if now.face_only_sensible
            else _(
                "Ticket + face (1:1) is the mode for this event's size: a face-only gate would "
                "send most holders to a staff check. Opening face-only gates needs a "
                "confirmation."
            )
        )
        head = format_html_join("", "<th>{}</th>", ((label,) for label in CAPACITY_COLUMNS))
        return format_html(
            "<p>{}</p><table><tr>{}</tr>{}</table><p>{}</p>",
            verdict,
            head,
            rows,
            _("First row: now. Model {}, {} photo(s) per holder, security level {}.").format(
                now.model, now.photos, event.get_security_level_display()
            ),
        )

    @admin.action(
        description=_("Delete all biometric data of the selected events"), permissions=["change"]
    )
    def delete_biometric_data(self, request, queryset):
        """Asks first (a page listing what goes), then deletes on the confirming POST."""
        events = list(queryset.select_related("organization"))
        if request.POST.get("post") == "yes":
            for event in events:
                deleted = event_biometrics_delete(event=event, actor=request.user)
                self.message_user(
                    request,
                    _(
                        "%(event)s: deleted %(photos)d photos, %(embeddings)d face templates "
                        "and %(frames)d gate frames."
                    )
                    % {
                        "event": event,
                        "photos": deleted["photos"],
                        "embeddings": deleted["embeddings"],
                        "frames": deleted["gate_frames"],
                    },
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Delete all biometric data?"),
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
