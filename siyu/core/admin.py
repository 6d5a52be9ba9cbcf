from typing import cast

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model

from siyu.core.admin_scope import WorkspaceScopedAdmin, admin_workspace_ids

from .models import Event, OutboxMessage, StaffRole, Workspace
from .services import staff_role_change, staff_role_change_check


class StaffRoleForm(forms.ModelForm):
    """Checks the role hierarchy for the person using the admin, so a refusal shows on the form."""

    request_user = None  # set by StaffRoleAdmin.get_form

    class Meta:
        model = StaffRole
        fields = ["workspace", "user", "role"]

    def clean(self):
        data = super().clean() or self.cleaned_data
        workspace = data.get("workspace") or getattr(self.instance, "workspace", None)
        user = data.get("user") or getattr(self.instance, "user", None)
        if workspace is not None and user is not None and data.get("role"):
            staff_role_change_check(workspace=workspace, user=user, role=data["role"], by=self.request_user)
        return data


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    workspace_field = "pk"
    list_display = ["name", "slug", "time_zone", "created_at"]
    fields = ["name", "time_zone"]
    # Daily counters are cut at the workspace's midnight: changing the zone needs a rebuild as well.
    readonly_fields = ["time_zone"]


@admin.register(StaffRole)
class StaffRoleAdmin(WorkspaceScopedAdmin):
    """Roles go through core.services.staff_role_change: the hierarchy, the last owner, the audit."""

    form = StaffRoleForm
    list_display = ["user", "workspace", "role"]
    list_filter = ["role"]

    def get_fields(self, request, obj=None):
        return ["role"] if obj is not None else ["workspace", "user", "role"]

    def has_add_permission(self, request):
        return self._allowed(request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = cast(type[StaffRoleForm], super().get_form(request, obj, change, **kwargs))  # a subclass of self.form
        form.request_user = request.user
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and db_field.name == "user" and not request.user.is_superuser:
            # Colleagues from the workspaces this admin runs; a new login is made with the CLI.
            colleagues = StaffRole.objects.filter(workspace_id__in=admin_workspace_ids(request.user)).values("user_id")
            field.queryset = get_user_model().objects.filter(pk__in=colleagues)
        return field

    def save_model(self, request, obj, form, change):
        saved = staff_role_change(workspace=obj.workspace, user=obj.user, role=obj.role, by=request.user, via="admin")
        obj.pk = saved.pk


@admin.register(Event)
class EventAdmin(WorkspaceScopedAdmin):
    read_only = True
    list_display = ["occurred_at", "type", "source", "source_id", "member", "group"]
    list_filter = ["type", "source"]
    list_select_related = ["member", "group"]
    show_full_result_count = False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(WorkspaceScopedAdmin):
    read_only = True
    list_display = ["created_at", "channel", "kind", "target", "status", "attempts", "due_at", "last_error"]
    list_filter = ["status", "channel", "kind"]
