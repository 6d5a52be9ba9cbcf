from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import Workspace


class DeadLetter(models.Model):
    """A webhook payload that verified (it is the platform's) but could not become events: the adapter's
    parse failed, or ingest refused what it made. Kept so an operator can read it and replay it after a fix
    (channels.webhooks.dead_letter_replay); `payload` is what parse takes, so a replay needs no re-verifying."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", verbose_name=_("workspace"))
    channel = models.CharField(_("channel"), max_length=32)
    account = models.CharField(_("account"), max_length=255)
    payload = models.TextField(_("payload"))
    body = models.TextField(_("raw body"), help_text=_("The request body as it arrived (encrypted on WeCom)."))
    query = models.JSONField(_("signature parameters"), default=dict, help_text=_("The query string that signed it."))
    error = models.TextField(_("error"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    replayed_at = models.DateTimeField(_("replayed at"), null=True, blank=True)
    replay_error = models.TextField(_("last replay error"), blank=True)

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        indexes = [models.Index(fields=["workspace", "-received_at"], name="deadletter_workspace_time")]

    def __str__(self) -> str:
        return f"{self.channel} {self.account} {self.received_at:%Y-%m-%d %H:%M:%S}"
