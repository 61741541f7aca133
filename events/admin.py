from django.contrib import admin

from events.admin_scoping import OrganizationScopedAdmin, ScopedInline
from events.models import Membership, Organization


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
