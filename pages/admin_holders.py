from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from attendees.csv_import import CsvFileError, ticket_holders_import_csv
from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import registration_url
from attendees.services import enrollment_photo_delete
from events.admin_scoping import OrganizationScopedAdmin, ScopedInline
from events.selectors import events_for_user
from privacy.services import ticket_holder_delete

MAX_CSV_BYTES = 20 * 1024 * 1024


def _thumbnail(photo: EnrollmentPhoto | None, size: int = 64):
    if photo is None or not photo.image:
        return "—"
    url = reverse("photo-thumbnail", args=[photo.pk])
    return format_html(
        '<img src="{}?size={}" width="{}" alt="photo {}">', url, size, size, photo.pk
    )


class EnrollmentPhotoInline(ScopedInline):
    model = EnrollmentPhoto
    fields = ["thumbnail", "status", "rejection_code", "rejection_message", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Photo")
    def thumbnail(self, photo):
        return _thumbnail(photo, 96)


class CsvImportForm(forms.Form):
    event = forms.ModelChoiceField(queryset=None)
    csv_file = forms.FileField(help_text="Columns: name, email, ticket_code, external_id.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = events_for_user(user)

    def clean_csv_file(self):
        upload = self.cleaned_data["csv_file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError("The file is larger than 20 MB; split it.")
        return upload


@admin.register(TicketHolder)
class TicketHolderAdmin(OrganizationScopedAdmin):
    org_path = "event__organization"
    scoped_foreign_keys = {"event": "organization"}
    list_display = ["name", "ticket_code", "event", "status", "needs_review", "photo"]
    list_filter = ["status", "needs_review", "event"]
    search_fields = ["name", "email", "ticket_code", "external_id"]
    readonly_fields = [
        "registration_link",
        "consent_at",
        "consent_text_version",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["event"]
    inlines = [EnrollmentPhotoInline]
    change_list_template = "admin/attendees/ticketholder/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("photos")

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

    @admin.display(description="Registration link")
    def registration_link(self, holder):
        if holder.pk is None:
            return "Shown once the ticket holder is saved."
        url = registration_url(holder, getattr(holder, "registration_base_url", ""))
        expires = timezone.now() + timedelta(seconds=settings.FACEPASS_REGISTRATION_LINK_MAX_AGE)
        return format_html(
            '<a href="{0}" target="_blank" rel="noopener">{0}</a><br>'
            "Send it to the ticket holder; this link works until {1}.",
            url,
            date_format(timezone.localtime(expires), "DATETIME_FORMAT"),
        )

    @admin.display(description="Photo")
    def photo(self, holder):
        accepted = [p for p in holder.photos.all() if p.status == EnrollmentPhoto.Status.ACCEPTED]
        return _thumbnail(accepted[0] if accepted else None)

    def get_urls(self):
        extra = [
            path(
                "import-csv/",
                self.admin_site.admin_view(self.import_csv_view),
                name="attendees_ticketholder_import_csv",
            )
        ]
        return extra + super().get_urls()

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
                self.message_user(request, f"Import finished: {report.summary}.", level)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import ticket holders from CSV",
            "form": form,
            "report": report,
            "opts": self.model._meta,
        }
        return render(request, "admin/attendees/ticketholder/import_csv.html", context)
