import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import Workspace
from siyu.core.secrets import secret_decrypt, secret_encrypt

from .crypto import CallbackKeys, aes_key


class EncryptedText:
    """An attribute read and written in plain text and stored encrypted in `column` (core.secrets).

    Reading raises SecretUnreadable if the secret key changed since the value was stored."""

    def __init__(self, column: str) -> None:
        self.column = column

    def __get__(self, instance: models.Model | None, owner: type) -> str:
        return secret_decrypt(getattr(instance, self.column))

    def __set__(self, instance: models.Model, value: str) -> None:
        setattr(instance, self.column, secret_encrypt(value))


def hook_token_new() -> str:
    """The unguessable part of an account's callback URL (/hooks/wecom/<token>/)."""
    return secrets.token_urlsafe(24)


class WeComAccount(models.Model):
    """The WeCom self-built app (自建应用) a workspace acts through: its corp, agent, secrets and callback URL.

    The app's Secret, the callback Token and the EncodingAESKey are stored encrypted (core.secrets), like
    a Matrix bot's token; `hook_token` is the URL's token, which finds the account before the signature
    is checked with the account's own Token.
    """

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="wecom_account", verbose_name=_("workspace")
    )
    corp_id = models.CharField(_("CorpID"), max_length=64)
    agent_id = models.CharField(_("AgentId"), max_length=32)
    secret_encrypted = models.TextField(editable=False)
    token_encrypted = models.TextField(editable=False)
    aes_key_encrypted = models.TextField(editable=False)
    hook_token = models.CharField(max_length=64, unique=True, default=hook_token_new, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    connected_at = models.DateTimeField(_("connected at"), auto_now_add=True)
    last_callback_at = models.DateTimeField(_("last callback"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WeCom account")
        verbose_name_plural = _("WeCom accounts")

    def __str__(self) -> str:
        return f"{self.corp_id} / {self.agent_id}"

    secret = EncryptedText("secret_encrypted")
    token = EncryptedText("token_encrypted")
    encoding_aes_key = EncryptedText("aes_key_encrypted")

    def callback_keys(self) -> CallbackKeys:
        """What verifies this app's callbacks; SecretUnreadable if the secret key changed since they were stored."""
        return CallbackKeys(token=self.token, key=aes_key(self.encoding_aes_key), receive_id=self.corp_id)
