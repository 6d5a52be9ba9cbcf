"""What every channel adapter provides. Nothing outside channels/ knows a platform's API.

One package per platform under `channels/` (simulator/, matrix/; wecom/ and telegram/ later). Each
registers one adapter instance with `channels.registry.register` in its AppConfig.ready().

Outbound actions are outbox messages (`core.models.OutboxMessage`): `kind` (a constant of core.kinds),
`target` and `payload` are platform-neutral, and the adapter turns them into platform calls:

    kind              target                 payload
    send_text         the group's external id {"text": str, "mentions": [{"id": external user id, "name": str}]}
    send_private      the member's external id {"text": str}
    remove_member     the group's external id {"user": external user id, "reason": str}
    set_announcement  the group's external id {"text": str}
    delete_message    the group's external id {"message_id": the platform's message id (the event's
                                               source_id), "reason": str}
    create_group      an existing group's      {"name": str, "capacity": int, "kind": group kind, "code": channel
                      external id (a model)    code id}; only on platforms listing it in `kinds` (Matrix)

`send` returns None or a dict. For `create_group` it must return {"group": {"id": the new group's external
id, "name", "capacity", "kind"}, "url": the link people join by}: the outbox's "sent" event carries that
group reference, so the group exists in Siyu in the same transaction, and links adds it to the code.

In `send_text`, each mention's name appears in the text as "@name"; the adapter renders mentions the
platform's way (Matrix: pills and m.mentions; WeCom: mentioned_list; Telegram: text_mention).
"""
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siyu.core.kinds import KINDS
from django.utils.functional import Promise

if TYPE_CHECKING:
    from siyu.core.models import OutboxMessage, Workspace


class AdapterError(Exception):
    """A platform refused or failed an action.

    permanent=True: retrying cannot help (unknown room, no permission); the outbox gives up.
    permanent=False: try again later; `retry_after` (seconds) is the platform's own wait, if it gave one
    (HTTP 429 with retry-after: "slow down").
    """

    def __init__(self, message: object, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class UnknownChannel(LookupError):
    pass


class HookRefused(Exception):
    """An inbound webhook request Siyu will not accept: `status` is the HTTP answer (401 not signed by the
    account, or too old; 400 signed but malformed, or too big; 404 no such account), the message the
    log's reason. Nothing of a refused request is stored."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class HookRequest:
    """One inbound webhook request as the platform sent it (channels.webhooks)."""

    method: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class HookVerified:
    """A webhook request the adapter verified: whose it is, what to answer, and what `parse` takes.

    `payload` is the platform's payload as text (WeCom: the decrypted XML), or None when there is
    nothing to ingest (WeCom's URL verification). `account` names the channel account for the dead
    letters and the log; `answer` is the 200 response's body.
    """

    workspace_id: int
    account: str
    answer: bytes
    payload: str | None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `per_second` sends on average, `burst` at once, for every message sharing `key`."""

    key: str
    per_second: float
    burst: int


class ChannelAdapter:
    """One platform. `name` is the ledger's `source` and the identities' channel; `label` is shown.

    parse(workspace, payload) turns one inbound platform payload into raw events for ingest.
    send(message) performs one outbox message (kind, target, payload, idempotency_key) or raises
    AdapterError; it may return a dict of what the platform made (see create_group above). Platforms that support it must use the idempotency key so a resend is not a repeat.
    rate_limits(message) names the buckets a send draws from (per bot, per room); the outbox waits for
    a free slot instead of letting the platform refuse.
    `kinds` lists the outbound kinds the platform supports (core.kinds.channel_can answers from it).
    Platforms that call Siyu (webhooks) implement `webhook_verify(token, request)`: find the account
    of the URL's token and check the request's signature before anything else (HookRefused if not);
    channels.webhooks then answers at once and hands `payload` to `parse`.
    """

    name = ""
    label: str | Promise = ""
    kinds = frozenset(KINDS)

    def parse(self, *, workspace: "Workspace", payload: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def send(self, *, message: "OutboxMessage") -> dict[str, Any] | None:
        raise NotImplementedError

    def rate_limits(self, *, message: "OutboxMessage") -> Sequence[RateLimit]:
        return ()

    def webhook_verify(self, *, token: str, request: HookRequest) -> HookVerified:
        raise HookRefused(f"{self.name} takes no webhooks", status=404)

    def webhook_received(self, *, verified: HookVerified, error: str) -> None:
        """Called after a verified request was handled: `error` is "" or why it went to the dead letters."""
