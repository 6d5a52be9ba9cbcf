from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LinksConfig(AppConfig):
    name = "siyu.links"
    label = "links"
    verbose_name = _("Short links")

    def ready(self) -> None:
        from siyu.core import projections
        from siyu.core.signals import events_ingested

        from . import projections as link_projections
        from .rotation import code_groups_created

        projections.register_resolver(link_projections.resolve_clicks)
        projections.register(link_projections.LinkCountersProjection())
        events_ingested.connect(code_groups_created, dispatch_uid="siyu.links.code_groups_created")

        from siyu.members.filters import condition_register
        from siyu.members.personal import personal_data_register

        from .conditions import CONDITIONS
        from .personal import PERSONAL_DATA

        for condition in CONDITIONS:
            condition_register(condition)
        personal_data_register(PERSONAL_DATA)
