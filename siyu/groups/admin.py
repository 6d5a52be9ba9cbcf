from django.contrib import admin

from siyu.core.admin_scope import WorkspaceScopedAdmin

from .models import Group


@admin.register(Group)
class GroupAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "kind", "channel", "capacity", "status", "workspace"]
    list_filter = ["kind", "status", "channel"]
    search_fields = ["name"]
    fields = ["name", "kind", "capacity", "status"]
