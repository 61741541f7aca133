from django.contrib import admin

from audit.models import AuditEntry
from events.admin_scoping import OrganizationScopedAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(OrganizationScopedAdmin):
    """The audit log is evidence: readable, never added to, changed or deleted from the admin
    (superusers included). Organizers see their organization's entries; entries without an
    organization (model activation) only superusers."""

    org_path = "organization"
    list_display = [
        "timestamp",
        "action",
        "actor_label",
        "organization",
        "target_type",
        "target_id",
        "target_repr",
    ]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "target_repr", "target_id"]
    list_select_related = ["organization"]
    date_hierarchy = "timestamp"
    fields = [
        "timestamp",
        "action",
        "actor",
        "actor_label",
        "organization",
        "target_type",
        "target_id",
        "target_repr",
        "details",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
