from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "siyu.groups"
    label = "groups"
    verbose_name = _("Groups")

    def ready(self):
        from siyu.core import projections

        from . import projections as group_projections

        projections.register_resolver(group_projections.resolve_groups)
        projections.register(group_projections.GroupDetailsProjection())
        projections.register(group_projections.MembershipProjection())
        projections.register(group_projections.GroupDailyStatsProjection())
