"""The inbound side: long-poll /sync for every enabled bot account and feed what arrives to ingest.

Each /sync response is ingested and its `next_batch` saved as the account's `since` in one
transaction, so a process killed at any moment resumes exactly where the ledger stands: nothing
is lost (the old token is replayed) and nothing is stored twice (the ledger dedupes on event ids).
`siyu channel matrix` runs `channel_run`: one thread per account, re-reading the accounts every few
seconds, backing off on errors and stopping cleanly on SIGTERM/SIGINT.
"""
import logging
import threading
from typing import Any

from django.db import DatabaseError, connection, transaction

from siyu.channels.base import AdapterError
from siyu.core.ingest import IngestRejected, events_ingest
from siyu.core.secrets import SecretUnreadable

from .adapter import MatrixAdapter
from .client import MatrixError
from .models import MatrixAccount
from .names import member_names_record, member_names_resolve
from .services import account_client, matrix_sync_recorded

log = logging.getLogger(__name__)

PARSED_TYPES = ["m.room.create", "m.room.message", "m.room.member", "m.room.name", "m.room.power_levels"]
TIMELINE_LIMIT = 500  # large, so a busy room rarely comes back "limited" and needs a backfill
SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": TIMELINE_LIMIT, "types": PARSED_TYPES},
        "state": {"types": PARSED_TYPES, "lazy_load_members": False},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
BACKFILL_PAGE = 100
BACKFILL_PAGES = 50  # at most 5,000 missed events per room and sync; older gaps are logged
MAX_BACKOFF = 60.0
_adapter = MatrixAdapter()


def matrix_sync_once(*, account, timeout_ms=0):
    """One /sync for the account: accept invites, backfill gaps, name senders, ingest, save `since`. Returns the IngestResult.

    Transactional: the events and the new `since` commit together. Raises AdapterError (temporary or
    permanent) when the homeserver fails; then nothing is stored and `since` stays.
    """
    client = account_client(account)
    response = client.sync(since=account.since or None, filter=SYNC_FILTER, timeout_ms=timeout_ms)
    next_batch = response.get("next_batch")
    if not isinstance(next_batch, str) or not next_batch:
        raise MatrixError("the /sync answer has no next_batch token", permanent=False)
    invites_accept(account=account, client=client, response=response)
    if account.since:
        gaps_backfill(account=account, client=client, response=response)
    names, name_changes = member_names_resolve(account=account, client=client, response=response)
    events = _adapter.parse(workspace=account.workspace, payload=response, names=names)
    with transaction.atomic():
        result = _ingest_skipping_rejects(account.workspace, events)
        member_names_record(account=account, changes=name_changes)
        matrix_sync_recorded(account_id=account.pk, since=next_batch)
    account.since = next_batch
    if result.stored:
        log.info("matrix: %s stored %s new events", account.user_id, result.stored)
    return result


def _ingest_skipping_rejects(workspace, events):
    """Ingest the batch; an event ingest refuses is logged and dropped, never blocking the stream."""
    for _attempt in range(3):
        try:
            return events_ingest(workspace=workspace, source=_adapter.name, events=events)
        except IngestRejected as exc:
            bad = {error.index for error in exc.errors}
            if -1 in bad or not bad:
                raise
            for error in exc.errors:
                log.warning("matrix: skipped event %s refused by ingest: %s", events[error.index].get("source_id"), error)
            events = [event for index, event in enumerate(events) if index not in bad]
    return events_ingest(workspace=workspace, source=_adapter.name, events=events)


def invites_accept(*, account, client, response):
    """Join every room the bot was invited to; the next /sync brings the room's state and members.

    A permanent refusal (the room is gone) is logged and skipped; a temporary one raises, so the
    sync is retried with the same `since` and the invite is seen again.
    """
    invites = (response.get("rooms") or {}).get("invite") or {}
    for room_id in invites if isinstance(invites, dict) else ():
        try:
            client.join(room_id)
            log.info("matrix: %s accepted the invite to %s", account.user_id, room_id)
        except MatrixError as exc:
            if not exc.permanent:
                raise
            log.warning("matrix: %s could not join %s: %s", account.user_id, room_id, exc)


def gaps_backfill(*, account, client, response):
    """For rooms whose timeline came back `limited`, fetch the skipped events with /messages.

    Pages backwards from the timeline's prev_batch to the previous sync position and puts the events
    in front of the timeline, so parsing sees the room's history without a hole.
    """
    joined = (response.get("rooms") or {}).get("join") or {}
    for room_id, room in joined.items() if isinstance(joined, dict) else ():
        timeline = room.get("timeline") if isinstance(room, dict) else None
        if not isinstance(timeline, dict) or not timeline.get("limited") or not timeline.get("prev_batch"):
            continue
        missed: list[dict[str, Any]] = []
        start = timeline["prev_batch"]
        for _page in range(BACKFILL_PAGES):
            page = client.messages(
                room_id, start=start, end=account.since, limit=BACKFILL_PAGE, filter={"types": PARSED_TYPES}
            )
            chunk = page.get("chunk") or []
            missed += chunk
            if not chunk or not page.get("end") or page["end"] == start:
                break
            start = page["end"]
        else:
            log.warning("matrix: %s: more than %s events missed in %s; older ones are not backfilled",
                        account.user_id, BACKFILL_PAGE * BACKFILL_PAGES, room_id)
        if missed:
            missed.reverse()  # /messages pages backwards, newest first
            timeline["events"] = missed + list(timeline.get("events") or [])
            log.info("matrix: backfilled %s events in %s", len(missed), room_id)


class AccountSyncer(threading.Thread):
    """Syncs one account until `stop` is set or the account is disabled or removed."""

    def __init__(self, account_id, *, stop, poll_seconds):
        super().__init__(name=f"matrix-sync-{account_id}", daemon=True)
        self.account_id = account_id
        self.stop = stop
        self.poll_ms = int(poll_seconds * 1000)

    def run(self):
        failures = 0
        try:
            while not self.stop.is_set():
                account = MatrixAccount.objects.select_related("workspace").filter(pk=self.account_id, enabled=True).first()
                if account is None:
                    return
                try:
                    matrix_sync_once(account=account, timeout_ms=self.poll_ms)
                    failures = 0
                except (AdapterError, DatabaseError, IngestRejected, SecretUnreadable) as exc:
                    failures += 1
                    self._failed(account, exc, failures)
                except Exception as exc:
                    failures += 1
                    log.exception("matrix: unexpected error syncing %s", account.user_id)
                    self._failed(account, exc, failures)
        finally:
            connection.close()

    def _failed(self, account, exc, failures):
        wait = min(MAX_BACKOFF, 2.0 ** failures)
        if isinstance(exc, AdapterError) and exc.retry_after is not None:
            wait = max(exc.retry_after, 0.5)
        elif isinstance(exc, (SecretUnreadable, AdapterError)) and getattr(exc, "permanent", True):
            wait = MAX_BACKOFF  # a refused token will not heal by itself; check now and then for a reconnect
        log.warning("matrix: sync of %s failed (%s); retrying in %.0fs", account.user_id, exc, wait)
        try:
            matrix_sync_recorded(account_id=account.pk, error=exc)
        except DatabaseError:
            log.warning("matrix: could not record the sync error of %s", account.user_id)
        connection.close()  # a broken database connection is reopened on the next query
        self.stop.wait(wait)


def channel_run(*, workspace=None, once=False, stop=None, poll_seconds=30.0, reload_seconds=5.0, stdout=None):
    """Run the Matrix inbound process (what `siyu channel matrix` does).

    once=True: one immediate /sync per enabled account, then return the number that failed.
    Otherwise run until `stop` is set: a thread per enabled account; accounts connected, enabled or
    disabled later are picked up within `reload_seconds`. With no account, it idles.
    """
    accounts = MatrixAccount.objects.filter(enabled=True).select_related("workspace").order_by("pk")
    if workspace:
        accounts = accounts.filter(workspace__slug=workspace)
    if once:
        failed = 0
        for account in accounts:
            try:
                result = matrix_sync_once(account=account, timeout_ms=0)
            except (AdapterError, IngestRejected, SecretUnreadable) as exc:
                failed += 1
                matrix_sync_recorded(account_id=account.pk, error=exc)
                _say(stdout, f"{account.workspace.slug}: {account.user_id}: failed: {exc}")
                continue
            _say(stdout, f"{account.workspace.slug}: {account.user_id}: received {result.received}, stored {result.stored}")
        return failed
    stop = stop or threading.Event()
    running: dict[int, AccountSyncer] = {}
    try:
        while not stop.is_set():
            for account_id in accounts.values_list("pk", flat=True):
                thread = running.get(account_id)
                if thread is None or not thread.is_alive():
                    running[account_id] = AccountSyncer(account_id, stop=stop, poll_seconds=poll_seconds)
                    running[account_id].start()
            connection.close()
            stop.wait(reload_seconds)
    finally:
        stop.set()
        # A thread inside a long poll holds no transaction: leaving it is safe, the next run replays its `since`.
        for thread in running.values():
            thread.join(timeout=2)
    return 0


def _say(stdout, line):
    if stdout is not None:
        stdout.write(line)
