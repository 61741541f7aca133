"""Admin base class that confines organizers to their own organization's rows.

Superusers see everything. Owners and organizers see and change only rows whose
`org_path` leads to one of their organizations; gate staff have no admin access.
"""

from django.contrib import admin

from events.selectors import organization_ids_for_user


class OrganizationScopedAdmin(admin.ModelAdmin):
    org_path = "organization"  # lookup from this model to Organization
    # Foreign keys whose choices must be scoped too, mapped to their own org path.
    scoped_foreign_keys: dict[str, str] = {}
    read_only_for_organizers = False

    def _org_ids(self, request) -> list[int]:
        if not hasattr(request, "_facepass_org_ids"):
            request._facepass_org_ids = organization_ids_for_user(request.user)
        return request._facepass_org_ids

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.org_path}__in": self._org_ids(request)})

    def get_list_filter(self, request):
        """A plain foreign-key filter would list every row of the related table (another
        organization's events, say): offer only the values of rows this user can see."""
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        scoped = []
        for item in filters:
            if isinstance(item, str) and "__" not in item:
                field = self.model._meta.get_field(item)
                if field.is_relation:
                    item = (item, admin.RelatedOnlyFieldListFilter)
            scoped.append(item)
        return scoped

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        path = self.scoped_foreign_keys.get(db_field.name)
        if path is not None and field is not None and not request.user.is_superuser:
            lookup = f"{path}__in" if path else "pk__in"
            field.queryset = field.queryset.filter(**{lookup: self._org_ids(request)})
        return field

    def _is_member(self, request) -> bool:
        return request.user.is_active and (
            request.user.is_superuser or bool(self._org_ids(request))
        )

    def _owns(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request):
        return self._is_member(request)

    def has_view_permission(self, request, obj=None):
        return self._is_member(request) and self._owns(request, obj)

    def has_add_permission(self, request, *args):
        return self._is_member(request) and not self.read_only_for_organizers

    def has_change_permission(self, request, obj=None):
        if self.read_only_for_organizers:
            return False
        return self._is_member(request) and self._owns(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)


class ScopedInline(admin.TabularInline):
    """Inline whose permissions follow the parent admin's scoping."""

    extra = 0

    def _is_member(self, request):
        return request.user.is_superuser or bool(organization_ids_for_user(request.user))

    def has_view_permission(self, request, obj=None):
        return self._is_member(request)

    def has_add_permission(self, request, obj=None):
        return self._is_member(request)

    def has_change_permission(self, request, obj=None):
        return self._is_member(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_member(request)
