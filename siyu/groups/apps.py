from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "siyu.groups"
    label = "groups"
    verbose_name = _("Groups")

    def ready(self) -> None:
        from siyu.core import projections
        from siyu.core.signals import events_ingested

        from . import projections as group_projections
        from .bot import bot_react

        projections.register_resolver(group_projections.resolve_groups)
        projections.register(group_projections.GroupDetailsProjection())
        projections.register(group_projections.MembershipProjection())
        projections.register(group_projections.StaffRoleProjection())
        projections.register(group_projections.GroupDailyStatsProjection())
        projections.register(group_projections.StrikeProjection())
        projections.register(group_projections.GroupStaffProjection())
        events_ingested.connect(bot_react, dispatch_uid="siyu.groups.bot_react")

        from siyu.members.exports import export_column_register
        from siyu.members.filters import condition_register
        from siyu.members.personal import personal_data_register

        from .conditions import CONDITIONS
        from .exports import GROUPS_NOW
        from .personal import PERSONAL_DATA

        for condition in CONDITIONS:
            condition_register(condition)
        personal_data_register(PERSONAL_DATA)
        export_column_register(GROUPS_NOW)
