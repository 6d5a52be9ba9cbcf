from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import Workspace


class SimulatedDelivery(models.Model):
    """What the simulated platform's bot was asked to do, once per idempotency key (like Matrix txn ids)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=191)
    kind = models.CharField(max_length=32)
    target = models.CharField(max_length=191)
    payload = models.JSONField(default=dict)
    delivered_at = models.DateTimeField(auto_now_add=True)
    deliveries_requested = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("simulated delivery")
        verbose_name_plural = _("simulated deliveries")
        constraints = [models.UniqueConstraint(fields=["workspace", "idempotency_key"], name="simdelivery_unique_key")]
