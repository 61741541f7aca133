"""The organizer's ticket holders: status derived from consent and photos (read-only), revoke
and unrevoke as explicit actions, registration links that stay the same until re-issued (bulk
issue, CSV export for the mail merge), the holder's check-ins, and the CSV import."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.db.models.functions import Collate
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from attendees.csv_import import CsvFileError, ticket_holders_import_csv
from attendees.models import NATURAL_SORT, EnrollmentPhoto, TicketHolder
from attendees.registration_links import registration_link_current, registration_link_expires_at
from attendees.selectors import ticket_holder_status_detail
from attendees.services import (
    enrollment_photo_delete,
    ticket_holder_revoke,
    ticket_holder_unrevoke,
    ticket_holders_registration_links_issue,
)
from checkins.dashboard import holder_checkins, reason_words
from events.admin_scoping import OrganizationScopedAdmin, ScopedInline
from events.selectors import events_for_user
from pages.admin_holder_filters import ConsentFilter, PhotosFilter, RejectedReasonFilter
from pages.admin_links import registration_links_csv_response
from privacy.services import ticket_holder_delete

MAX_CSV_BYTES = 20 * 1024 * 1024


def _thumbnail(photo: EnrollmentPhoto | None, size: int = 64):
    if photo is None or not photo.image:
        return "—"
    url = reverse("photo-thumbnail", args=[photo.pk])
    # A square crop of every photo, whatever its shape: the list's rows line up.
    css = "fp-thumb-large" if size > 64 else "fp-thumb"
    return format_html(
        '<img src="{}?size={}" class="{}" width="{}" height="{}" alt="{}">',
        url,
        size * 2,
        css,
        size,
        size,
        _("photo %(id)s") % {"id": photo.pk},
    )


class EnrollmentPhotoInline(ScopedInline):
    model = EnrollmentPhoto
    fields = ["thumbnail", "status", "rejection_reason", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Photo"))
    def thumbnail(self, photo):
        return _thumbnail(photo, 96)

    @admin.display(description=_("Why rejected"))
    def rejection_reason(self, photo):
        return reason_words(photo.rejection_code)


class CsvImportForm(forms.Form):
    event = forms.ModelChoiceField(queryset=None)
    csv_file = forms.FileField(help_text=_("Columns: name, email, ticket_code, external_id."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = events_for_user(user)

    def clean_csv_file(self):
        upload = self.cleaned_data["csv_file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB; split it."))
        return upload


@admin.register(TicketHolder)
class TicketHolderAdmin(OrganizationScopedAdmin):
    org_path = "event__organization"
    scoped_foreign_keys = {"event": "organization"}
    list_display = ["holder_name", "ticket_code", "event", "status_detail", "review", "photo"]
    list_filter = [
        "status",
        ConsentFilter,
        PhotosFilter,
        RejectedReasonFilter,
        "needs_review",
        "event",
    ]
    search_fields = ["name", "email", "ticket_code", "external_id"]
    # Status is derived from consent and photos; revocation has its own actions.
    exclude = ["status"]
    readonly_fields = [
        "status_detail",
        "registration_link",
        "consent_at",
        "consent_text_version",
        "checkins",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["event"]
    inlines = [EnrollmentPhotoInline]
    actions = [
        "revoke_tickets",
        "unrevoke_tickets",
        "issue_registration_links",
        "export_registration_links",
    ]
    change_list_template = "admin/attendees/ticketholder/change_list.html"
    change_form_template = "admin/attendees/ticketholder/change_form.html"
    ordering = [Collate("name", NATURAL_SORT).asc(), "pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("photos")

    @admin.display(description=_("Name"), ordering=Collate("name", NATURAL_SORT))
    def holder_name(self, holder):
        return holder.name

    @admin.display(description=_("Status"), ordering="status")
    def status_detail(self, holder):
        return ticket_holder_status_detail(holder)

    @admin.display(description=_("Face review"), ordering="-needs_review")
    def review(self, holder):
        # Words, not Django's boolean icons: a red cross read as "failed" for "no review needed".
        if holder.needs_review:
            return format_html('<span class="fp-badge fp-review">{}</span>', _("Check faces"))
        return "—"

    # Deletions go through the services: files leave storage and the audit log names who.
    def delete_model(self, request, obj):
        ticket_holder_delete(holder=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for holder in queryset:
                ticket_holder_delete(holder=holder, actor=request.user)

    def save_formset(self, request, form, formset, change):
        if formset.model is not EnrollmentPhoto:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)  # photos are read-only here: only deletions remain
        for photo in formset.deleted_objects:
            enrollment_photo_delete(photo=photo, actor=request.user)

    def get_object(self, request, object_id, from_field=None):
        holder = super().get_object(request, object_id, from_field)
        if holder is not None:
            # Readonly fields see only the object; the link needs this request's host.
            holder.registration_base_url = request.build_absolute_uri("/")
        return holder

    @admin.display(description=_("Registration link"))
    def registration_link(self, holder):
        if holder.pk is None:
            return _("Shown once the ticket holder is saved.")
        if holder.status == TicketHolder.Status.REVOKED:
            return _("None: the ticket is revoked.")
        url = registration_link_current(holder, getattr(holder, "registration_base_url", ""))
        if url is None:
            return _("No link issued yet, or it has expired: use “Issue a new link”.")
        expires = registration_link_expires_at(holder)
        return format_html(
            '<input type="text" readonly value="{0}" id="registration-link" size="70">'
            '<button type="button" class="button fp-copy" data-copy="registration-link">'
            "{1}</button>"
            "<br>{2}",
            url,
            _("Copy"),
            _("Send it to the ticket holder; it works until %(date)s")
            % {"date": date_format(timezone.localtime(expires), "DATETIME_FORMAT")},
        )

    @admin.display(description=_("Check-ins"))
    def checkins(self, holder):
        rows = list(holder_checkins(holder)[:50]) if holder.pk else []
        if not rows:
            return _("None yet.")
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("When"),
            _("Gate"),
            _("Decision"),
            _("Reason"),
            _("Score"),
            format_html_join("", "<tr>{}</tr>", ((_checkin_cells(c),) for c in rows)),
        )

    @admin.display(description=_("Photo"))
    def photo(self, holder):
        accepted = [p for p in holder.photos.all() if p.status == EnrollmentPhoto.Status.ACCEPTED]
        return _thumbnail(accepted[0] if accepted else None)

    @admin.action(description=_("Revoke the selected tickets"), permissions=["change"])
    def revoke_tickets(self, request, queryset):
        changed = [h for h in queryset if ticket_holder_revoke(holder=h)]
        for holder in changed:
            self.log_change(request, holder, [{"changed": {"fields": ["status"]}}])
        self.message_user(
            request,
            ngettext("%d ticket revoked.", "%d tickets revoked.", len(changed)) % len(changed),
            messages.SUCCESS,
        )

    @admin.action(description=_("Unrevoke the selected tickets"), permissions=["change"])
    def unrevoke_tickets(self, request, queryset):
        changed = [h for h in queryset if ticket_holder_unrevoke(holder=h)]
        for holder in changed:
            self.log_change(request, holder, [{"changed": {"fields": ["status"]}}])
        self.message_user(
            request,
            ngettext("%d ticket restored.", "%d tickets restored.", len(changed)) % len(changed),
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Issue new registration links for the selected holders"),
        permissions=["change"],
    )
    def issue_registration_links(self, request, queryset):
        issued = ticket_holders_registration_links_issue(queryset)
        self.message_user(
            request,
            ngettext("%d link issued.", "%d links issued.", issued) % issued
            + " "
            + str(_("Links sent before stay valid until they expire.")),
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Export registration links (CSV for a mail merge)"), permissions=["change"]
    )
    def export_registration_links(self, request, queryset):
        # Holders without a valid link get one; links already issued are exported unchanged.
        ticket_holders_registration_links_issue(queryset, only_missing=True)
        holders = self.get_queryset(request).filter(pk__in=queryset.values("pk"))
        return registration_links_csv_response(holders, request.build_absolute_uri("/"))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        extra = [
            path(
                "import-csv/",
                wrap(self.import_csv_view),
                name="attendees_ticketholder_import_csv",
            ),
            path(
                "<path:object_id>/act/<str:what>/",
                wrap(self.holder_act_view),
                name="attendees_ticketholder_act",
            ),
        ]
        return extra + super().get_urls()

    HOLDER_ACTS = {
        "revoke": (ticket_holder_revoke, _("The ticket is revoked.")),
        "unrevoke": (ticket_holder_unrevoke, _("The ticket is restored.")),
    }

    def holder_act_view(self, request, object_id, what):
        """The change page's buttons (POST): revoke, unrevoke, issue a new registration link."""
        holder = self.get_object(request, unquote(object_id))
        if holder is None or request.method != "POST":
            raise Http404(_("No such ticket holder."))
        if not self.has_change_permission(request, holder):
            return redirect("admin:index")
        if what == "link":
            holders = TicketHolder.objects.filter(pk=holder.pk)
            ticket_holders_registration_links_issue(holders)
            self.message_user(request, _("A new registration link is issued."), messages.SUCCESS)
        elif what in self.HOLDER_ACTS:
            act, done = self.HOLDER_ACTS[what]
            if act(holder=holder):
                self.log_change(request, holder, [{"changed": {"fields": ["status"]}}])
                self.message_user(request, done, messages.SUCCESS)
        else:
            raise Http404(_("No such action."))
        return redirect("admin:attendees_ticketholder_change", holder.pk)

    def import_csv_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = CsvImportForm(request.POST or None, request.FILES or None, user=request.user)
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                report = ticket_holders_import_csv(
                    event=form.cleaned_data["event"], raw=form.cleaned_data["csv_file"].read()
                )
            except CsvFileError as exc:
                form.add_error("csv_file", str(exc))
            else:
                level = messages.WARNING if report.errors else messages.SUCCESS
                done = _("Import finished: %(summary)s.") % {"summary": report.summary}
                self.message_user(request, done, level)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import ticket holders from CSV"),
            "form": form,
            "report": report,
            "opts": self.model._meta,
        }
        return render(request, "admin/attendees/ticketholder/import_csv.html", context)


def _checkin_cells(checkin):
    """One row of the holder's check-ins: linked time, gate, decision, reason, score."""
    url = reverse("admin:events_checkin_change", args=[checkin.pk])
    return format_html(
        '<td><a href="{}">{}</a></td><td>{}</td><td><span class="fp-badge fp-{}">{}</span></td>'
        "<td>{}</td><td>{}</td>",
        url,
        date_format(timezone.localtime(checkin.created_at), "SHORT_DATETIME_FORMAT"),
        checkin.gate.name,
        checkin.decision,
        checkin.get_decision_display(),
        reason_words(checkin.reason),
        "—" if checkin.score is None else f"{checkin.score:.3f}",
    )
