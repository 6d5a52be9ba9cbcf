"""Django admin scoped to the workspaces a staff member administers (owner or admin role)."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest

from .models import Role, StaffRole


def admin_workspace_ids(user: Any) -> list[int]:
    if not user.is_authenticated:  # the admin's login page asks too
        return []
    return list(
        StaffRole.objects.filter(user=user, role__in=[Role.OWNER, Role.ADMIN]).values_list("workspace_id", flat=True)
    )


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """Rows of the workspaces the user administers; superusers see all."""

    workspace_field = "workspace"
    read_only = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(**{f"{self.workspace_field}__in": admin_workspace_ids(request.user)})

    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(admin_workspace_ids(request.user))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.read_only and self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "workspace" and not request.user.is_superuser and field is not None and field.queryset is not None:
            field.queryset = field.queryset.filter(pk__in=admin_workspace_ids(request.user))
        return field
