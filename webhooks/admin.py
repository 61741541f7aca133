import json

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from events.admin_scoping import OrganizationScopedAdmin
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from webhooks.selectors import webhook_delivery_counts
from webhooks.services import webhook_delivery_retry


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    # Checkboxes instead of raw JSON; the model's clean() still validates the list.
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None selected: every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["organization", "url", "description", "event_types", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrganizationScopedAdmin):
    """Organizers register their own URLs; the signing secret is generated, never typed."""

    form = WebhookEndpointForm
    org_path = "organization"
    scoped_foreign_keys = {"organization": ""}
    list_display = ["url", "organization", "subscribed", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    list_select_related = ["organization"]
    readonly_fields = ["secret", "created_at", "deliveries"]

    def get_fields(self, request, obj=None):
        fields = ["organization", "url", "description", "event_types", "is_active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_deleted_objects(self, objs, request):
        # Deliveries cannot be deleted one by one (they are a log), but deleting an endpoint
        # takes its log with it; without this the missing permission would block the delete.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(WebhookDelivery._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @admin.display(description="Event types")
    def subscribed(self, obj):
        return ", ".join(obj.event_types) or "all"

    @admin.display(description="Deliveries")
    def deliveries(self, obj):
        counts = webhook_delivery_counts(endpoint=obj)
        url = reverse("admin:webhooks_webhookdelivery_changelist")
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        return format_html('<a href="{}?endpoint__id__exact={}">{}</a>', url, obj.pk, summary)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrganizationScopedAdmin):
    """Deliveries are a log: read-only, except that failed ones can be retried."""

    org_path = "endpoint__organization"
    read_only_for_organizers = True
    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    # RelatedOnly: the endpoint filter must not list other organizations' URLs.
    list_filter = ["status", "event_type", ("endpoint", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["endpoint__url", "last_error"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    actions = ["retry_now"]

    def get_readonly_fields(self, request, obj=None):
        fields = [f.name for f in self.model._meta.fields if f.name != "payload"]
        return [*fields, "payload_pretty"]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    @admin.display(description="Payload")
    def payload_pretty(self, obj):
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False)
        )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry now (failed deliveries)")
    def retry_now(self, request, queryset):
        failed = queryset.filter(status=WebhookDelivery.Status.FAILED)
        queued = sum(webhook_delivery_retry(delivery=delivery) for delivery in failed)
        skipped = queryset.count() - queued
        self.message_user(request, f"{queued} delivery(ies) queued for another attempt.")
        if skipped:
            self.message_user(request, f"{skipped} not failed, left as they are.", messages.WARNING)
