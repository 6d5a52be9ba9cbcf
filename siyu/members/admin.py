from django.contrib import admin

from siyu.core.admin_scope import WorkspaceScopedAdmin

from .models import Identity, Member


class IdentityInline(admin.TabularInline):
    model = Identity
    fields = ("channel", "external_id", "display_name", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Member)
class MemberAdmin(WorkspaceScopedAdmin):
    list_display = ["number", "display_name", "city", "workspace", "created_at"]
    search_fields = ["display_name", "=number"]
    fields = ["display_name", "gender", "city", "remark"]
    inlines = [IdentityInline]
    show_full_result_count = False
