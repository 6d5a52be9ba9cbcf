from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WeComConfig(AppConfig):
    name = "siyu.channels.wecom"
    label = "wecom"
    verbose_name = _("WeCom channel")

    def ready(self) -> None:
        from siyu.channels import registry

        from .adapter import WeComAdapter

        registry.register(WeComAdapter())
