from django.contrib import admin

from siyu.core.admin_scope import WorkspaceScopedAdmin

from .models import Event, OutboxMessage, StaffRole, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    workspace_field = "pk"
    list_display = ["name", "slug", "time_zone", "created_at"]
    fields = ["name", "time_zone"]
    # Daily counters are cut at the workspace's midnight: changing the zone needs a rebuild as well.
    readonly_fields = ["time_zone"]


@admin.register(StaffRole)
class StaffRoleAdmin(WorkspaceScopedAdmin):
    list_display = ["user", "workspace", "role"]
    list_filter = ["role"]
    fields = ["role"]


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
