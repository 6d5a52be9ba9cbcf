"""Inbound webhooks, one mechanism for every platform that calls Siyu: `/hooks/<channel>/<account-token>/`.

1. The body is read up to `MAX_BODY_BYTES` (more: 400) and the channel's adapter verifies the request
   before anything else (`webhook_verify`: the URL's token finds the account, the signature is checked
   in constant time with that account's secret). A refusal is logged and answered 401/400/404; nothing
   of it is stored.
2. A verified request is answered 200 at once (`webhook_answer`): WeCom retries after 5 seconds,
   Telegram on anything but a 2xx.
3. Then (`webhook_ingest`; on the production server `Ingester`, in batches) the adapter's `parse` turns the payload into events and ingest stores them,
   de-duplicated by the platform's id through `source_id`, so a retried callback is stored once. A
   payload that verified but does not parse, or that ingest refuses, goes to the dead letters
   (`DeadLetter`), never to a 500; `dead_letter_replay` runs it again after a fix.

`webhooks_asgi(app)` serves the path in front of Django on the production server (siyu.asgi), answering
before it ingests; the Django view (channels.views) does the same steps for the plain WSGI stack.
"""
import asyncio
import logging
import queue
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from django.core.exceptions import SynchronousOnlyOperation
from django.db import close_old_connections, transaction
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
    try:
        workspace = Workspace.objects.get(pk=verified.workspace_id)
        events = adapter.parse(workspace=workspace, payload=verified.payload)
        result = events_ingest(workspace=workspace, source=adapter.name, events=events)
    except Exception as exc:  # a parser's or ingest's refusal, or a bug: the payload is kept, not lost
        _dead_letter(Pending(channel, verified, request), exc)
        return None
    adapter.webhook_received(verified=verified, error="")
    return result


@dataclass(frozen=True, slots=True)
class Pending:
    """A verified request, answered, waiting to be ingested."""

    channel: str
    verified: HookVerified
    request: HookRequest


def webhooks_ingest_batch(*, pending: Sequence[Pending]) -> int:
    """Ingest many verified requests at once; the number of events stored. Never raises.

    Each payload is parsed alone (one that does not parse is its own dead letter), then the events of
    each channel and workspace go to ingest in one batch, so a burst of callbacks costs one transaction.
    If ingest refuses that batch, each request is ingested alone (`webhook_ingest`): only the one it
    refuses becomes a dead letter. Idempotent like `webhook_ingest`.
    """
    groups: dict[tuple[str, int], list[Pending]] = {}
    for item in pending:
        if item.verified.payload is not None:
            groups.setdefault((item.channel, item.verified.workspace_id), []).append(item)
    stored = 0
    for (channel, workspace_id), items in groups.items():
        adapter = adapter_get(channel)
        parsed: list[Pending] = []
        try:
            workspace = Workspace.objects.get(pk=workspace_id)
            events = []
            for item in items:
                try:
                    events += adapter.parse(workspace=workspace, payload=item.verified.payload)
                except Exception as exc:
                    _dead_letter(item, exc)
                    continue
                parsed.append(item)
            result = events_ingest(workspace=workspace, source=adapter.name, events=events)
        except Exception:
            log.info("webhook %s: a batch of %s was refused; ingesting them one by one", channel, len(parsed))
            for item in parsed:
                one = webhook_ingest(channel=channel, verified=item.verified, request=item.request)
                stored += one.stored if one is not None else 0
            continue
        stored += result.stored
        if parsed:
            adapter.webhook_received(verified=parsed[-1].verified, error="")
    return stored


def _dead_letter(item: Pending, exc: Exception) -> None:
    verified, request = item.verified, item.request
    error = f"{type(exc).__name__}: {exc}"[:4000]
    log.warning("webhook %s %s: payload to the dead letters: %s", item.channel, verified.account, error)
    try:
        DeadLetter.objects.create(
            workspace_id=verified.workspace_id, channel=item.channel, account=verified.account[:255],
            payload=verified.payload or "", body=request.body.decode("utf-8", "replace"), query=request.query, error=error,
        )
    except Exception:
        log.exception("webhook %s %s: the dead letter could not be stored either", item.channel, verified.account)
    adapter_get(item.channel).webhook_received(verified=verified, error=error)


class Ingester:
    """The production server's ingest: one thread per process takes the answered requests in batches of up
    to `MAX_BATCH` (all that queued up while the previous batch was written; SQLite has one writer anyway),
    so that answering never waits for the database and a burst costs few transactions. `submit` returns
    a future done once the request's events are stored or dead-lettered; the request's ASGI call awaits
    it, so a server shutting down gracefully finishes what it answered."""

    MAX_BATCH = 500

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Pending, Future[None]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, item: Pending) -> "Future[None]":
        future: Future[None] = Future()
        self._queue.put((item, future))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="siyu-webhooks-ingest", daemon=True)
                self._thread.start()
        return future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                webhooks_ingest_batch(pending=[item for item, _future in batch])
            except Exception:
                log.exception("webhooks: a batch of %s could not be ingested", len(batch))
                close_old_connections()
            for _item, future in batch:
                future.set_result(None)


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
    """`/hooks/<channel>/<token>/` answered before Django: verify in a thread, answer, then ingest (batched)."""
    ingester = Ingester()

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
            verify = partial(webhook_answer, channel=channel, token=token, request=request)
            try:
                # A known account needs no database: verified right here on the event loop.
                answer = verify()
            except SynchronousOnlyOperation:
                # It needs a query (first sight of the account, or its cache expired). Django refuses the
                # query before running it, and verifying writes nothing: run it again in a thread.
                answer = await loop.run_in_executor(None, verify)
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        if answer.verified is not None and answer.verified.payload is not None:
            await asyncio.wrap_future(ingester.submit(Pending(channel, answer.verified, request)))

    return application
