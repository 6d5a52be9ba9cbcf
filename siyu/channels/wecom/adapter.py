"""The WeCom channel (企业微信): callbacks in (channels.webhooks), verified with the app's Token and
EncodingAESKey and parsed by `events.callback_events`. Sending (客户群 broadcasts, welcome messages, app
messages) comes in a later step of issue 20: until then WeCom lists no outbound kinds, so nothing is
queued to it (core.kinds.channel_can says no)."""
import threading
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy

from siyu.channels.base import ChannelAdapter, HookRefused, HookRequest, HookVerified
from siyu.core.models import Workspace
from siyu.core.secrets import SecretUnreadable

from .crypto import CallbackKeys
from .events import callback_events
from .models import WeComAccount

_keys: dict[int, tuple[tuple[str, str, str], CallbackKeys]] = {}
_keys_lock = threading.Lock()


def account_keys(account: WeComAccount) -> CallbackKeys:
    """The account's callback keys, decrypted once per stored value (a reconnect changes them)."""
    stored = (account.token_encrypted, account.aes_key_encrypted, account.corp_id)
    with _keys_lock:
        cached = _keys.get(account.pk)
        if cached and cached[0] == stored:
            return cached[1]
    keys = account.callback_keys()
    with _keys_lock:
        _keys[account.pk] = (stored, keys)
    return keys


class WeComAdapter(ChannelAdapter):
    name = "wecom"
    label = gettext_lazy("WeCom")
    kinds: frozenset[str] = frozenset()

    def parse(self, *, workspace: Workspace, payload: Any) -> list[dict[str, Any]]:
        """One decrypted callback (XML text) → raw events; CallbackUnparsable if it is not a published shape."""
        return callback_events(payload)

    def webhook_verify(self, *, token: str, request: HookRequest) -> HookVerified:
        account = WeComAccount.objects.filter(hook_token=token).first()
        if account is None or not account.enabled:
            raise HookRefused("no enabled WeCom account has this callback URL", status=404)
        try:
            keys = account_keys(account)
        except (SecretUnreadable, ValueError) as exc:
            # Siyu's secret key changed since the account was stored: the operator reconnects it.
            _error_record(account.workspace_id, str(exc))
            raise HookRefused(f"the account's secrets cannot be read: {exc}", status=401) from None
        query = request.query
        msg_signature, timestamp, nonce = (query.get(name, "") for name in ("msg_signature", "timestamp", "nonce"))
        if not (msg_signature and timestamp and nonce):
            raise HookRefused("no msg_signature, timestamp or nonce", status=401)
        label = f"{account.corp_id}/{account.agent_id}"
        if request.method == "GET":
            echo = keys.url_verify(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=query.get("echostr", ""))
            return HookVerified(workspace_id=account.workspace_id, account=label, answer=echo, payload=None)
        plain = keys.message_decrypt(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, body=request.body)
        return HookVerified(workspace_id=account.workspace_id, account=label, answer=b"", payload=plain.decode("utf-8", "replace"))

    def webhook_received(self, *, verified: HookVerified, error: str) -> None:
        now = timezone.now()
        changes: dict[str, Any] = {"last_callback_at": now}
        if error:
            changes.update(last_error=error, last_error_at=now)
        WeComAccount.objects.filter(workspace_id=verified.workspace_id).update(**changes)


def _error_record(workspace_id: int, error: str) -> None:
    WeComAccount.objects.filter(workspace_id=workspace_id).update(last_error=error[:4000], last_error_at=timezone.now())
