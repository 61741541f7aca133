"""List filters of the ticket-holder admin that the dashboard links to: consent given or not,
where the photos stand, and which reason rejected a photo."""

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from attendees.models import EnrollmentPhoto
from common.reasons import Reason

Photo = EnrollmentPhoto.Status
CHECKING = (Photo.PENDING, Photo.PROCESSING)


def _photos(**filters):
    return Exists(EnrollmentPhoto.objects.filter(holder=OuterRef("pk"), **filters))


class ConsentFilter(admin.SimpleListFilter):
    title = _("consent")
    parameter_name = "consent"

    def lookups(self, request, model_admin):
        return [("given", _("Given")), ("none", _("Not given"))]

    def queryset(self, request, queryset):
        if self.value() in ("given", "none"):
            return queryset.filter(consent_at__isnull=self.value() == "none")
        return queryset


class PhotosFilter(admin.SimpleListFilter):
    title = _("photos")
    parameter_name = "photos"

    def lookups(self, request, model_admin):
        return [
            ("accepted", _("An accepted photo")),
            ("checking", _("A photo being checked")),
            ("rejected_only", _("Only rejected photos")),
            ("none", _("No photo")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "accepted":
            return queryset.filter(_photos(status=Photo.ACCEPTED))
        if value == "checking":
            return queryset.filter(_photos(status__in=CHECKING))
        if value == "rejected_only":
            return queryset.filter(_photos(status=Photo.REJECTED)).exclude(
                _photos(status__in=[Photo.ACCEPTED, *CHECKING])
            )
        if value == "none":
            return queryset.exclude(_photos())
        return queryset


class RejectedReasonFilter(admin.SimpleListFilter):
    title = _("photo rejected for")
    parameter_name = "rejected_reason"

    def lookups(self, request, model_admin):
        codes = (
            EnrollmentPhoto.objects.filter(
                holder__in=model_admin.get_queryset(request), status=Photo.REJECTED
            )
            .order_by()
            .values_list("rejection_code", flat=True)
            .distinct()
        )
        return [(c, Reason(c).label) for c in sorted(codes) if c in Reason.values]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(_photos(status=Photo.REJECTED, rejection_code=self.value()))
        return queryset
