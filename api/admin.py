from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from events.admin_scoping import OrganizationScopedAdmin


class KeyStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("revoked", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() in ("active", "revoked"):
            return queryset.filter(revoked_at__isnull=self.value() == "active")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(OrganizationScopedAdmin):
    """Organizers create keys (the secret is shown once) and revoke them; keys never change."""

    org_path = "organization"
    scoped_foreign_keys = {"organization": ""}
    list_display = [
        "key_name",
        "state",
        "organization",
        "display_prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [KeyStateFilter, "organization"]
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

    @admin.display(description=_("Name"), ordering="name")
    def key_name(self, obj):
        if obj.revoked_at is None:
            return obj.name
        return format_html("<del>{}</del>", obj.name)

    @admin.display(description=_("State"), ordering="revoked_at")
    def state(self, obj):
        if obj.revoked_at is None:
            return format_html('<span class="fp-badge fp-active">{}</span>', _("Active"))
        return format_html('<span class="fp-badge fp-revoked">{}</span>', _("Revoked"))

    @admin.display(description=_("Key starts with"))
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
            _("The API key is %(key)s — copy it now: it is not stored and will not be shown again.")
            % {"key": plaintext},
        )

    @admin.action(description=_("Revoke selected API keys…"), permissions=["change"])
    def revoke_keys(self, request, queryset):
        """Asks first (a page naming the keys and what stops working), revokes on the POST that
        confirms."""
        keys = list(queryset.filter(revoked_at__isnull=True).select_related("organization"))
        if not keys:
            self.message_user(request, _("The selected keys are already revoked."), messages.INFO)
            return None
        if request.POST.get("post") == "yes":
            for key in keys:
                api_key_revoke(key=key, actor=request.user)
            self.message_user(
                request,
                ngettext("%d API key revoked.", "%d API keys revoked.", len(keys)) % len(keys),
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Revoke API keys?"),
            "opts": self.model._meta,
            "keys": keys,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "revoke_keys",
        }
        return TemplateResponse(request, "admin/api/apikey/revoke_confirm.html", context)
