"""The ingest service: the one way events enter the ledger.

    events_ingest(workspace=ws, source="simulator", events=[{...}, ...])

A raw event is a dict:
    type         dotted key, e.g. "group.joined" (see core.events.EventType)
    source_id    the channel's own id for it, at most 191 characters; repeated deliveries are stored once
    occurred_at  ISO 8601 with a UTC offset (or an aware datetime)
    actor        {"id": "...", "name": "..."}: the person, as the channel knows them (required for
                 member events)
    group        {"id": "...", "name": "...", "kind": "...", "capacity": N}: the chat group (required
                 for group events)
    data         a JSON object with the event's details ("text" for messages, "amount_cents" and
                 "order_id" for orders, "amount_cents" for costs, "campaign" for campaign touches,
                 "code" for exposures and joins, "inviter" (the inviter's id on the same channel)
                 for joins, "role" for joins/role changes; "history": true on any event a channel
                 reports from before its bot was present: stored like any other, not reacted to)
"""
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from . import projections, signals
from .db import UTC, fetch_existing, value_adapter
from .events import NEEDS_ACTOR, NEEDS_GROUP, TYPE_BY_KEY, EventType
from .models import Event

if TYPE_CHECKING:
    from .models import Workspace

log = logging.getLogger(__name__)

MAX_BATCH = 10_000
MAX_ID_LENGTH = 191
MAX_NAME_LENGTH = 128
MAX_TEXT_LENGTH = 4_000
MAX_DATA_BYTES = 16_384
# ¥100,000,000 per order or cost: a sum of amounts overflows a 64-bit integer only past 900 million of them.
MAX_AMOUNT_CENTS = 10_000_000_000
# The ledger's window: nothing before 2000 (day arithmetic near year 1 overflows), nothing from the future.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=10)
SOURCE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# Ids: no control characters, no lone surrogates (not Unicode text: neither SQLite's UTF-8 nor PostgreSQL stores them).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\ud800-\udfff]")
# Names: any text but NUL (PostgreSQL refuses it in text) and lone surrogates.
UNSTORABLE_CHARACTERS = re.compile(r"[\x00\ud800-\udfff]")
SURROGATES = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class IngestError:
    index: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"#{self.index} {self.field}: {self.reason}"


class IngestRejected(Exception):
    """The whole batch was refused; `errors` names the position and reason of every bad event."""

    def __init__(self, errors: Iterable[IngestError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[:20])
        more = f" (+{len(self.errors) - 20} more)" if len(self.errors) > 20 else ""
        super().__init__(_("Batch rejected, nothing was stored: %(errors)s%(more)s") % {"errors": shown, "more": more})


@dataclass(frozen=True, slots=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int


def events_ingest(*, workspace: "Workspace", source: str, events: Sequence[Mapping[str, Any]]) -> IngestResult:
    """Validate a batch, drop events already stored, append the rest and update every projection.

    All or nothing: a batch with any invalid event raises IngestRejected and writes nothing; otherwise
    the append and the projections commit in one transaction. Idempotent: the same batch twice stores
    once. Safe under concurrent writers: a lost race on a unique key retries the batch.
    """
    prepared = _validate(source, events)
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _append(workspace, source, prepared, received=len(events))
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("ingest: concurrent writer won a unique key, retrying batch of %s", len(events))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _validate(source: object, events: object) -> list[projections.PreparedEvent]:
    if not isinstance(source, str) or not SOURCE_PATTERN.match(source):
        raise IngestRejected([IngestError(-1, "source", _("must be a channel name of lowercase letters, digits, - or _ (at most 32)"))])
    if not isinstance(events, (list, tuple)):
        raise IngestRejected([IngestError(-1, "events", _("must be a list of events"))])
    if len(events) > MAX_BATCH:
        raise IngestRejected([IngestError(-1, "events", _("at most %(n)s events per batch") % {"n": MAX_BATCH})])
    errors: list[IngestError] = []
    prepared = []
    latest = timezone.now() + FUTURE_TOLERANCE
    for index, raw in enumerate(events):
        before = len(errors)
        event = _validate_one(index, raw, latest, errors)
        if event is not None and len(errors) == before:
            prepared.append(event)
    if errors:
        raise IngestRejected(errors)
    return prepared


_PAYMENT_TYPES = {int(EventType.ORDER_PAID), int(EventType.ORDER_REFUNDED)}
_AMOUNT_TYPES = _PAYMENT_TYPES | {int(EventType.COST_RECORDED)}
_NEEDS_ACTOR = {int(t) for t in NEEDS_ACTOR}
_NEEDS_GROUP = {int(t) for t in NEEDS_GROUP}


def _id_ok(value: object) -> bool:
    """The fast path of _check_id: True for a valid id (printable text has no control character or surrogate)."""
    return (
        isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and not value.isspace()
        and (value.isprintable() or CONTROL_CHARACTERS.search(value) is None)
    )


def _check_id(index: int, field: str, value: object, errors: list[IngestError]) -> bool:
    if _id_ok(value):
        return True
    if not isinstance(value, str) or not value.strip():
        errors.append(IngestError(index, field, _("is required and must be a non-empty string")))
    elif len(value) > MAX_ID_LENGTH:
        errors.append(IngestError(index, field, _("is %(n)s characters long; at most %(max)s allowed") % {"n": len(value), "max": MAX_ID_LENGTH}))
    elif SURROGATES.search(value):
        errors.append(IngestError(index, field, _("contains a lone surrogate, which is not Unicode text")))
    else:
        errors.append(IngestError(index, field, _("contains control characters")))
    return False


def _unstorable(value: object) -> bool:
    """Whether a JSON value holds a string (or key) with NUL, which PostgreSQL cannot store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def _check_ref(index: int, field: str, ref: object, errors: list[IngestError]) -> dict[str, Any] | None:
    if isinstance(ref, dict) and _id_ok(ref.get("id")):
        name = ref.get("name", "")
        if isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and (
            name.isprintable() or UNSTORABLE_CHARACTERS.search(name) is None
        ):
            return ref
    if not isinstance(ref, dict):
        errors.append(IngestError(index, field, _("must be an object with an \"id\"")))
        return None
    if not _check_id(index, f"{field}.id", ref.get("id"), errors):
        return None
    name = ref.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        errors.append(IngestError(index, f"{field}.name", _("must be a string of at most %(max)s characters") % {"max": MAX_NAME_LENGTH}))
    elif SURROGATES.search(name):
        errors.append(IngestError(index, f"{field}.name", _("contains a lone surrogate, which is not Unicode text")))
    else:
        errors.append(IngestError(index, f"{field}.name", _("contains a NUL character, which the database cannot store")))
    return None


def _parse_time(index: int, value: object, latest: datetime, errors: list[IngestError]) -> datetime | None:
    """The moment in UTC, or None with the reason appended to `errors`.

    Converted to UTC before it is compared: comparing datetimes of two time zones (say Asia/Shanghai
    and UTC) asks each for its UTC offset on every comparison, which cost more than all other checks.
    """
    moment = value
    if isinstance(value, str):
        try:
            moment = parse_datetime(value)
        except (ValueError, OverflowError):
            moment = None
    if not isinstance(moment, datetime):
        errors.append(IngestError(index, "occurred_at", _("is not an ISO 8601 timestamp (e.g. 2026-05-01T20:15:00+08:00)")))
        return None
    if moment.utcoffset() is None:
        errors.append(IngestError(index, "occurred_at", _("has no UTC offset; add one, e.g. +08:00 or Z")))
        return None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # in UTC before year 1 or after 9999: outside the window either way
        moment = EARLIEST - FUTURE_TOLERANCE if moment.year < EARLIEST.year else latest + FUTURE_TOLERANCE
    if moment > latest:
        errors.append(IngestError(index, "occurred_at", _("is in the future")))
        return None
    if moment < EARLIEST:
        errors.append(IngestError(index, "occurred_at", _("is before 2000-01-01, the earliest time the ledger keeps")))
        return None
    return moment


def _validate_one(index: int, raw: object, latest: datetime, errors: list[IngestError]) -> projections.PreparedEvent | None:
    """One raw event: a PreparedEvent, or None with the reasons appended to `errors`.

    Written for the common case (a valid event costs a few dictionary lookups); the detailed
    checks run only to explain what is wrong.
    """
    if not isinstance(raw, dict):
        errors.append(IngestError(index, "event", _("must be an object")))
        return None
    raw_type = raw.get("type")
    event_type = TYPE_BY_KEY.get(raw_type) if isinstance(raw_type, str) else None
    if event_type is None:
        errors.append(IngestError(index, "type", _("unknown event type %(type)r") % {"type": raw.get("type")}))
        return None
    source_id = raw.get("source_id")
    source_ok = _check_id(index, "source_id", source_id, errors)
    occurred_at = _parse_time(index, raw.get("occurred_at"), latest, errors)
    actor = raw.get("actor")
    group_ref = raw.get("group")
    if actor is not None or event_type in _NEEDS_ACTOR:
        actor = _check_ref(index, "actor", actor, errors)
    if group_ref is not None or event_type in _NEEDS_GROUP:
        group_ref = _check_ref(index, "group", group_ref, errors)
    data = raw.get("data", {})
    if not isinstance(data, dict):
        errors.append(IngestError(index, "data", _("must be an object")))
        return None
    try:
        encoded = orjson.dumps(data)
    except TypeError as exc:
        if "surrogates" in str(exc):
            errors.append(IngestError(index, "data", _("contains a lone surrogate, which is not Unicode text")))
        else:
            errors.append(IngestError(index, "data", _("must contain only JSON values")))
        return None
    if b"\\u0000" in encoded and _unstorable(data):
        errors.append(IngestError(index, "data", _("contains a NUL character, which the database cannot store")))
    if len(encoded) > MAX_DATA_BYTES:
        errors.append(IngestError(index, "data", _("is %(n)s bytes; at most %(max)s allowed") % {"n": len(encoded), "max": MAX_DATA_BYTES}))
    text = data.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH):
        errors.append(IngestError(index, "data.text", _("must be a string of at most %(max)s characters") % {"max": MAX_TEXT_LENGTH}))
    if text is None and event_type == EventType.GROUP_MESSAGE:
        errors.append(IngestError(index, "data.text", _("is required for a message")))
    if event_type in _AMOUNT_TYPES:
        amount = data.get("amount_cents")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            errors.append(IngestError(index, "data.amount_cents", _("must be a whole number of cents, 0 or more")))
        elif amount > MAX_AMOUNT_CENTS:
            errors.append(IngestError(index, "data.amount_cents", _("is more than %(max)s cents, the most one event may carry") % {"max": MAX_AMOUNT_CENTS}))
        if event_type in _PAYMENT_TYPES:
            _check_id(index, "data.order_id", data.get("order_id"), errors)
    if event_type == EventType.CAMPAIGN_TOUCHED:
        _check_id(index, "data.campaign", data.get("campaign"), errors)
    if "inviter" in data and event_type == EventType.GROUP_JOINED:
        _check_id(index, "data.inviter", data.get("inviter"), errors)
    if "role" in data and not isinstance(data["role"], str):
        errors.append(IngestError(index, "data.role", _("must be a string")))
    if occurred_at is None or not source_ok or not isinstance(source_id, str):
        return None
    return projections.PreparedEvent(
        type=event_type,
        occurred_at=occurred_at,
        source_id=source_id,
        data=data,
        data_json=encoded.decode(),
        actor=actor,
        group_ref=group_ref,
        index=index,
    )


def _drop_stored(
    workspace: "Workspace", source: str, prepared: list[projections.PreparedEvent]
) -> list[projections.PreparedEvent]:
    """Drop events already in the ledger and repeats within the batch; keep the first of each id."""
    seen = set()
    unique = []
    for event in prepared:
        if event.source_id not in seen:
            seen.add(event.source_id)
            unique.append(event)
    stored = {
        row[0]
        for row in fetch_existing(
            Event._meta.db_table, ["source_id"], key="source_id", values=seen,
            filters={"workspace_id": workspace.pk, "source": source},
        )
    }
    return [e for e in unique if e.source_id not in stored]


def _ledger_lock_key(workspace: "Workspace") -> int:
    return (0x51A0 << 32) | workspace.pk


def _append(workspace: "Workspace", source: str, prepared: list[projections.PreparedEvent], *, received: int) -> IngestResult:
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        # Shared with other writers, exclusive against ledger_high_water: see there.
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_ledger_lock_key(workspace)])
    new = _drop_stored(workspace, source, prepared)
    if new:
        new.sort(key=lambda e: e.occurred_at)
        batch = projections.Batch(workspace=workspace, source=source, events=new)
        errors = [IngestError(*error) for projection in projections.registered() for error in projection.validate(batch)]
        if errors:
            raise IngestRejected(sorted(errors, key=lambda e: e.index))
        for resolve in projections.resolvers():
            resolve(batch)
        _insert_events(workspace, source, new)
        for projection in projections.registered():
            projection.apply(batch)
        signals.events_ingested.send(sender=Event, workspace=workspace, source=source, stored=len(new), events=new)
    return IngestResult(received=received, stored=len(new), duplicates=received - len(new))


def _insert_events(workspace: "Workspace", source: str, events: list[projections.PreparedEvent]) -> None:
    """Append the rows with one executemany; the JSON text is the one validation measured."""
    db = connections[DEFAULT_DB_ALIAS]
    moment = value_adapter(Event._meta.get_field("occurred_at"), db) or (lambda value: value)
    recorded_at = moment(timezone.now())
    workspace_id = workspace.pk
    rows = [
        (workspace_id, e.type, moment(e.occurred_at), recorded_at, source, e.source_id, e.member_id, e.group_id, e.data_json)
        for e in events
    ]
    data = "%s::jsonb" if db.vendor == "postgresql" else "%s"
    sql = (
        f"INSERT INTO {db.ops.quote_name(Event._meta.db_table)} "
        "(workspace_id, type, occurred_at, recorded_at, source, source_id, member_id, group_id, data) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {data})"
    )
    with db.cursor() as cursor:
        cursor.executemany(sql, rows)


def ledger_high_water(*, workspace: "Workspace") -> int:
    """The highest event id of the workspace such that every event with a smaller id is committed.

    Readers that follow the ledger by id (analytics' watermark) must not read past it: on PostgreSQL
    two writers can commit out of id order, and an event committed late behind a watermark that
    already passed its id would be missed. Ingest holds a shared advisory lock per workspace until it
    commits; taking it exclusively here waits for those writers, and writers starting later get
    higher ids. SQLite has one writer at a time, so its last id is always safe.
    """
    db = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic():
        if db.vendor == "postgresql":
            with db.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ledger_lock_key(workspace)])
        with db.cursor() as cursor:
            # Newest first along the primary key, stopping at the workspace's latest event (on SQLite the
            # unary plus keeps the planner off the workspace's source index, which would visit every event).
            workspace_column = "+workspace_id" if db.vendor == "sqlite" else "workspace_id"
            cursor.execute(
                f"SELECT id FROM {db.ops.quote_name(Event._meta.db_table)} WHERE {workspace_column} = %s ORDER BY id DESC LIMIT 1",
                [workspace.pk],
            )
            row = cursor.fetchone()
    return row[0] if row else 0
