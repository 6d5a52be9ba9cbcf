from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MatrixConfig(AppConfig):
    name = "siyu.channels.matrix"
    label = "matrix"
    verbose_name = _("Matrix channel")

    def ready(self) -> None:
        from siyu.channels import registry
        from siyu.members.personal import personal_data_register

        from .adapter import MatrixAdapter
        from .personal import PERSONAL_DATA

        registry.register(MatrixAdapter())
        personal_data_register(PERSONAL_DATA)
