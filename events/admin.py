from django.contrib import admin

from events.admin_scoping import OrganizationScopedAdmin, ScopedInline
from events.models import CheckIn, Event, Gate, Membership, Organization


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
        return [f.name for f in self.model._meta.fields]

    def has_delete_permission(self, request, obj=None):
        return False
