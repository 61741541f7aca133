from django.contrib import admin

from recognition.models import EmbeddingModel


@admin.register(EmbeddingModel)
class EmbeddingModelAdmin(admin.ModelAdmin):
    """Models are deployment-wide: only the operator (superuser) sees and changes them.

    Activation goes through `manage.py activate_model` so embeddings are re-made.
    """

    list_display = ["name", "version", "kind", "is_active", "activated_at", "created_at"]
    readonly_fields = ["is_active", "activated_at", "created_at", "thresholds", "metrics"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False
