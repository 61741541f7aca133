from django.contrib import admin, messages

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from events.admin_scoping import OrganizationScopedAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(OrganizationScopedAdmin):
    """Organizers create keys (the secret is shown once) and revoke them; keys never change."""

    org_path = "organization"
    scoped_foreign_keys = {"organization": ""}
    list_display = [
        "name",
        "organization",
        "display_prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["organization"]
    search_fields = ["name", "prefix"]
    list_select_related = ["organization", "created_by"]
    fields = ["organization", "name"]
    readonly_fields = [
        "display_prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke_keys"]

    @admin.display(description="Key starts with")
    def display_prefix(self, obj):
        return f"fp_{obj.prefix}_…"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name"]
        return ["organization", "name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["organization", "name", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            return  # keys are immutable; revoke and create a new one instead
        key, plaintext = api_key_create(
            organization=obj.organization, name=obj.name, user=request.user
        )
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state.adding = False
        obj._state.db = key._state.db
        messages.success(
            request,
            f"The API key is {plaintext} — copy it now: it is not stored and will not be "
            "shown again.",
        )

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request, queryset):
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, actor=request.user)
            revoked += 1
        self.message_user(request, f"{revoked} API key(s) revoked.", messages.SUCCESS)
