from django.contrib import admin
from django.utils import timezone

from siyu.core.admin_scope import WorkspaceScopedAdmin

from .models import ModelSettings
from .tiers import member_models_update


@admin.register(ModelSettings)
class ModelSettingsAdmin(WorkspaceScopedAdmin):
    list_display = (
        "workspace", "activity_window_days", "core_min_messages", "high_spend_cents", "loyal_months",
        "bargain_aov_cents", "need_months", "lead_products", "high_ticket_products",
    )
    fields = list_display[1:]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # New thresholds apply to every member at once, not only to those the next events name.
        today = timezone.now().astimezone(obj.workspace.tz).date()
        member_models_update(workspace=obj.workspace, members=None, today=today)
