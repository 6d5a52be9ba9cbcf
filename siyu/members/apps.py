from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "siyu.members"
    label = "members"
    verbose_name = _("Members")

    def ready(self):
        from siyu.core import projections
        from siyu.core.signals import events_ingested

        from . import projections as member_projections

        projections.register_resolver(member_projections.resolve_actors)
        projections.register(member_projections.MemberStatsProjection())
        projections.register(member_projections.MemberImportedProjection())
        projections.register(member_projections.MemberProfileProjection())
        projections.register(member_projections.MemberBarProjection())
        projections.register(member_projections.MemberTagProjection())

        from .segments import members_react

        events_ingested.connect(members_react, dispatch_uid="siyu.members.members_react")
        from .owners import MemberOwnerProjection

        projections.register(MemberOwnerProjection())
        from .staff import MemberStaffProjection

        projections.register(MemberStaffProjection())
