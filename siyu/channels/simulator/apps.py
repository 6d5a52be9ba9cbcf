from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimulatorConfig(AppConfig):
    name = "siyu.channels.simulator"
    label = "simulator"
    verbose_name = _("Simulator channel")

    def ready(self) -> None:
        from siyu.channels import registry

        from .adapter import SimulatorAdapter

        registry.register(SimulatorAdapter())
