from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LinksConfig(AppConfig):
    name = "siyu.links"
    label = "links"
    verbose_name = _("Short links")

    def ready(self):
        from siyu.core import projections

        from . import projections as link_projections

        projections.register_resolver(link_projections.resolve_clicks)
        projections.register(link_projections.LinkCountersProjection())
