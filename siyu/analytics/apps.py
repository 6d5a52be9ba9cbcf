from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "siyu.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from siyu.core import signals

        from . import tasks

        signals.events_ingested.connect(tasks.refresh_soon, dispatch_uid="analytics-refresh-soon")
        signals.ledger_rebuilt.connect(tasks.rebuild_after_ledger, dispatch_uid="analytics-rebuild")

        from siyu.members.filters import condition_register
        from siyu.members.leads import score_facts_register
        from siyu.members.personal import personal_data_register

        from .conditions import CONDITIONS
        from .lead_inputs import TIERS
        from .personal import PERSONAL_DATA

        for condition in CONDITIONS:
            condition_register(condition)
        personal_data_register(PERSONAL_DATA)
        score_facts_register(TIERS)
