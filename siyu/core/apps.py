from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "siyu.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from . import login  # noqa: F401  (connects the lockout audit to axes' signal)
        from . import checks  # noqa: F401  (registers the deploy checks)
