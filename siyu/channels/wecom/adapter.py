"""The WeCom channel (企业微信): callbacks in (channels.webhooks), verified with the app's Token and
EncodingAESKey and parsed by `events.callback_events`. Sending (客户群 broadcasts, welcome messages, app
messages) comes in a later step of issue 20: until then WeCom lists no outbound kinds, so nothing is
queued to it (core.kinds.channel_can says no)."""
import time
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy

from siyu.channels.base import ChannelAdapter, HookRefused, HookRequest, HookVerified
from siyu.core.models import Workspace
from siyu.core.secrets import SecretUnreadable

from .crypto import CallbackKeys
from .events import callback_events
from .models import WeComAccount

# How long a process trusts what it read of an account (so a callback needs no query): a disconnect, a
# disable or new secrets saved by another process take effect within this many seconds.
CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class KnownAccount:
    workspace_id: int
    label: str
    keys: CallbackKeys
    until: float


_known: dict[str, KnownAccount] = {}


def account_known(token: str) -> KnownAccount | None:
    """The enabled account whose callback URL has this token, with its decrypted keys (cached a few seconds).

    SecretUnreadable or ValueError if its secrets cannot be read (the secret key changed)."""
    now = time.monotonic()
    known = _known.get(token)
    if known is not None and known.until > now:
        return known
    account = WeComAccount.objects.filter(hook_token=token, enabled=True).first()
    if account is None:
        _known.pop(token, None)
        return None
    try:
        keys = account.callback_keys()
    except (SecretUnreadable, ValueError) as exc:
        _error_record(account.workspace_id, str(exc))
        raise
    known = KnownAccount(account.workspace_id, f"{account.corp_id}/{account.agent_id}", keys, now + CACHE_SECONDS)
    _known[token] = known
    return known


def accounts_forget() -> None:
    """Read the accounts again on the next callback (after a connect or disconnect in this process)."""
    _known.clear()


class WeComAdapter(ChannelAdapter):
    name = "wecom"
    label = gettext_lazy("WeCom")
    kinds: frozenset[str] = frozenset()

    def parse(self, *, workspace: Workspace, payload: Any) -> list[dict[str, Any]]:
        """One decrypted callback (XML text) → raw events; CallbackUnparsable if it is not a published shape."""
        return callback_events(payload)

    def webhook_verify(self, *, token: str, request: HookRequest) -> HookVerified:
        try:
            account = account_known(token)
        except (SecretUnreadable, ValueError) as exc:
            # Siyu's secret key changed since the account was stored: the operator reconnects it.
            raise HookRefused(f"the account's secrets cannot be read: {exc}", status=401) from None
        if account is None:
            raise HookRefused("no enabled WeCom account has this callback URL", status=404)
        keys = account.keys
        query = request.query
        msg_signature, timestamp, nonce = (query.get(name, "") for name in ("msg_signature", "timestamp", "nonce"))
        if not (msg_signature and timestamp and nonce):
            raise HookRefused("no msg_signature, timestamp or nonce", status=401)
        label = account.label
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
