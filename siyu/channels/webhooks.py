"""Inbound webhooks, one mechanism for every platform that calls Siyu: `/hooks/<channel>/<account-token>/`.

1. The body is read up to `MAX_BODY_BYTES` (more: 400) and the channel's adapter verifies the request
   before anything else (`webhook_verify`: the URL's token finds the account, the signature is checked
   in constant time with that account's secret). A refusal is logged and answered 401/400/404; nothing
   of it is stored.
2. A verified request is answered 200 at once (`webhook_answer`): WeCom retries after 5 seconds,
   Telegram on anything but a 2xx.
3. Then (`webhook_ingest`) the adapter's `parse` turns the payload into events and ingest stores them,
   de-duplicated by the platform's id through `source_id`, so a retried callback is stored once. A
   payload that verified but does not parse, or that ingest refuses, goes to the dead letters
   (`DeadLetter`), never to a 500; `dead_letter_replay` runs it again after a fix.

`webhooks_asgi(app)` serves the path in front of Django on the production server (siyu.asgi), answering
before it ingests; the Django view (channels.views) does the same steps for the plain WSGI stack.
"""
import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.ingest import IngestResult, events_ingest
from siyu.core.models import Workspace

from .base import HookRefused, HookRequest, HookVerified, UnknownChannel
from .models import DeadLetter
from .registry import adapter_get

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # a WeCom callback is under 2 KB, a Telegram update a few KB
PATH = re.compile(r"^/hooks/([a-z][a-z0-9_-]{0,31})/([A-Za-z0-9_-]{1,64})/$")


@dataclass(frozen=True, slots=True)
class HookAnswer:
    """The HTTP answer to a webhook request, and the verified request to ingest after answering (or None)."""

    status: int
    body: bytes
    verified: HookVerified | None = None


def webhook_answer(*, channel: str, token: str, request: HookRequest) -> HookAnswer:
    """Verify one webhook request: 200 with the adapter's answer, or the refusal's status (logged). Writes nothing."""
    try:
        if len(request.body) > MAX_BODY_BYTES:
            raise HookRefused(f"body over {MAX_BODY_BYTES} bytes", status=400)
        try:
            adapter = adapter_get(channel)
        except UnknownChannel:
            raise HookRefused("unknown channel", status=404) from None
        verified = adapter.webhook_verify(token=token, request=request)
    except HookRefused as refused:
        log.warning("webhook %s/%s…: refused %s %s (%s)", channel, token[:6], request.method, refused.status, refused)
        return HookAnswer(refused.status, b"")
    return HookAnswer(200, verified.answer, verified)


def webhook_ingest(*, channel: str, verified: HookVerified, request: HookRequest) -> IngestResult | None:
    """Parse a verified request's payload and ingest its events; a failure becomes a dead letter. Never raises.

    Idempotent: a retried callback's events have the same source_ids and are stored once.
    """
    if verified.payload is None:
        return None
    adapter = adapter_get(channel)
    result, error = None, ""
    try:
        workspace = Workspace.objects.get(pk=verified.workspace_id)
        events = adapter.parse(workspace=workspace, payload=verified.payload)
        result = events_ingest(workspace=workspace, source=adapter.name, events=events)
    except Exception as exc:  # a parser's or ingest's refusal, or a bug: the payload is kept, not lost
        error = f"{type(exc).__name__}: {exc}"[:4000]
        log.warning("webhook %s %s: payload to the dead letters: %s", channel, verified.account, error)
        try:
            DeadLetter.objects.create(
                workspace_id=verified.workspace_id, channel=channel, account=verified.account[:255],
                payload=verified.payload, body=request.body.decode("utf-8", "replace"),
                query=request.query, error=error,
            )
        except Exception:
            log.exception("webhook %s %s: the dead letter could not be stored either", channel, verified.account)
    adapter.webhook_received(verified=verified, error=error)
    return result


class ReplayFailed(Exception):
    """A dead letter still does not become events; the message says why (also kept as its replay_error)."""


def dead_letter_replay(*, letter: DeadLetter) -> IngestResult:
    """Parse and ingest a dead letter's payload again (after a parser fix) and mark it replayed.

    Idempotent: events already stored are duplicates, so replaying twice stores once. On failure the
    letter keeps its payload, records `replay_error` and ReplayFailed is raised.
    """
    try:
        adapter = adapter_get(letter.channel)
        with transaction.atomic():
            events = adapter.parse(workspace=letter.workspace, payload=letter.payload)
            result = events_ingest(workspace=letter.workspace, source=adapter.name, events=events)
            DeadLetter.objects.filter(pk=letter.pk).update(replayed_at=timezone.now(), replay_error="")
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:4000]
        DeadLetter.objects.filter(pk=letter.pk).update(replay_error=reason)
        letter.replay_error = reason
        raise ReplayFailed(_("Replay failed: %(reason)s") % {"reason": reason}) from None
    letter.refresh_from_db(fields=["replayed_at", "replay_error"])
    return result


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None once it passes MAX_BODY_BYTES (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def webhooks_asgi(app: ASGIApp) -> ASGIApp:
    """`/hooks/<channel>/<token>/` answered before Django: verify in a thread, answer, then ingest."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        match = PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] in ("GET", "POST") else None
        if match is None:
            return await app(scope, receive, send)
        channel, token = match.groups()
        body = await _read_body(receive)
        loop = asyncio.get_running_loop()
        if body is None:
            answer = HookAnswer(400, b"")
            log.warning("webhook %s/%s…: refused %s 400 (body over %s bytes)", channel, token[:6], scope["method"], MAX_BODY_BYTES)
        else:
            request = HookRequest(
                method=scope["method"], query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))),
                headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]},
                body=body,
            )
            answer = await loop.run_in_executor(None, partial(webhook_answer, channel=channel, token=token, request=request))
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        if answer.verified is not None and answer.verified.payload is not None:
            await loop.run_in_executor(None, partial(webhook_ingest, channel=channel, verified=answer.verified, request=request))

    return application
