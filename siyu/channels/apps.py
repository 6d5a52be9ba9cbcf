from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "siyu.channels"
    label = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from siyu.core.kinds import channel_kinds_lookup_register
        from siyu.core.labels import PRODUCTS
        from siyu.core.outbox import outbox_enqueued
        from siyu.members.personal import personal_data_register

        from . import registry, tasks
        from .personal import PERSONAL_DATA
        from .simulator.generator import PRODUCT_LABELS

        channel_kinds_lookup_register(registry.adapter_kinds)
        PRODUCTS.register(PRODUCT_LABELS)
        personal_data_register(PERSONAL_DATA)
        outbox_enqueued.connect(tasks.wake_drainer, dispatch_uid="siyu.channels.wake_drainer")
