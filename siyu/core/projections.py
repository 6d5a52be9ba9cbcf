"""The projection registry: state derived from the ledger, kept current by ingest, rebuildable.

`core` imports no app, so apps register their parts here in AppConfig.ready():
- a *resolver* maps the raw references of new events (actor, group) to row ids, creating rows on first
  sight; it runs in the ingest transaction before the events are appended;
- a *projection* applies a batch of stored events to its tables and can reset them for a rebuild.
"""
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext as _

from .db import update_by_field_set

if TYPE_CHECKING:
    from .models import Workspace

# A projection's refusal of one event: (position in the batch, field, reason).
Refusal = tuple[int, str, str]


@dataclass(slots=True)
class PreparedEvent:
    """An event on its way into (or back out of) the ledger, with its resolved member and group."""

    type: int
    occurred_at: datetime
    source_id: str
    data: dict[str, Any]
    data_json: str = ""  # the data as stored, serialised once by validation
    actor: dict[str, Any] | None = None
    group_ref: dict[str, Any] | None = None
    member_id: int | None = None
    group_id: int | None = None
    index: int = -1  # position in the submitted batch, for error messages


@dataclass(slots=True)
class Batch:
    """New events of one workspace in occurrence order, as projections see them."""

    workspace: "Workspace"
    source: str
    events: list[PreparedEvent] = field(default_factory=list)
    tz: tzinfo = field(init=False)
    by_type: dict[int, list[PreparedEvent]] = field(init=False)

    def __post_init__(self) -> None:
        self.tz = self.workspace.tz  # looked up once, used for every event's local day
        self.by_type = {}
        for event in self.events:
            self.by_type.setdefault(event.type, []).append(event)

    def of_type(self, event_type: int) -> Sequence[PreparedEvent]:
        """The batch's events of one type, in occurrence order."""
        return self.by_type.get(event_type, ())

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


class Projection:
    """Base class: `apply` must be incremental (same result as applying the events one at a time)."""

    name = "projection"

    def validate(self, batch: Batch) -> Iterable[Refusal]:
        """(index, field, reason) for each event this projection would refuse; checked before any write."""
        return ()

    def apply(self, batch: Batch) -> None:
        raise NotImplementedError

    def reset(self, *, workspace: "Workspace") -> None:
        raise NotImplementedError


class LatestFieldsProjection(Projection):
    """Events of one type set fields on one row (the latest event in the batch wins per field).

    Subclasses name the `model`, the `event_type`, the event attribute holding the row id
    (`row_id_attribute`) and the `fields` to copy from `data`, and say what is wrong with a `data` in
    `field_errors`. The fields are also edited by operators, so `reset` keeps them: a rebuild replays
    the events over them in order.
    """

    model: type[models.Model]
    event_type: int
    row_id_attribute = "member_id"
    fields: tuple[str, ...] = ()

    def field_errors(self, data: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        """(field, reason) pairs for the values of `data` this row cannot take."""
        raise NotImplementedError

    def validate(self, batch: Batch) -> Iterator[Refusal]:
        for event in batch.of_type(self.event_type):
            for field_name, reason in self.field_errors(event.data):
                yield event.index, f"data.{field_name}", reason

    def apply(self, batch: Batch) -> None:
        latest: dict[int, dict[str, Any]] = {}
        for event in batch.of_type(self.event_type):
            row_id = getattr(event, self.row_id_attribute)
            if row_id:
                latest.setdefault(row_id, {}).update({k: event.data[k] for k in self.fields if k in event.data})
        update_by_field_set(self.model, latest)

    def reset(self, *, workspace: "Workspace") -> None:
        return None


class LatestUserProjection(Projection):
    """Events of one type name a user for one row (`data[user_field]`: a user id or null); the last one wins.

    Subclasses name the `model`, the `event_type`, the event attribute holding the row id
    (`row_id_attribute`) and the `user_field` (a foreign key to the user, named the same in `data`).
    `reset` keeps the values: a rebuild replays the events over them in order.
    """

    model: type[models.Model]
    event_type: int
    row_id_attribute = "member_id"
    user_field = ""

    def validate(self, batch: Batch) -> Iterator[Refusal]:
        yield from user_id_errors(batch.of_type(self.event_type), self.user_field)

    def apply(self, batch: Batch) -> None:
        latest: dict[int, dict[str, Any]] = {}
        for event in batch.of_type(self.event_type):  # occurrence order: the last one wins
            row_id = getattr(event, self.row_id_attribute)
            if row_id:
                latest[row_id] = {self.user_field: event.data.get(self.user_field)}
        update_by_field_set(self.model, latest)

    def reset(self, *, workspace: "Workspace") -> None:
        return None


def text_error(data: Mapping[str, Any], name: str, *, shortest: int, longest: int) -> str | None:
    """The reason `data[name]`, if present, is not a string of `shortest` to `longest` characters."""
    value = data.get(name)
    if name in data and (not isinstance(value, str) or not shortest <= len(value) <= longest):
        return _("must be a string of %(min)s to %(max)s characters") % {"min": shortest, "max": longest}
    return None


def user_id_errors(events: Iterable[PreparedEvent], name: str) -> Iterator[Refusal]:
    """(index, "data.<name>", reason) for events whose `data[name]` is neither null nor the id of a user."""
    from django.contrib.auth import get_user_model

    users: dict[int, int] = {}
    for event in events:
        value = event.data.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            yield event.index, f"data.{name}", _("must be a user id or null")
        elif value is not None:
            users.setdefault(value, event.index)
    if users:
        known = set(get_user_model().objects.filter(pk__in=users).values_list("pk", flat=True))
        for value, index in users.items():
            if value not in known:
                yield index, f"data.{name}", _("no user %(id)s") % {"id": value}


Resolver = Callable[[Batch], None]
_resolvers: list[Resolver] = []
_projections: list[Projection] = []


def register_resolver(resolver: Resolver) -> None:
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def register(projection: Projection) -> None:
    if all(type(p) is not type(projection) for p in _projections):
        _projections.append(projection)


def resolvers() -> tuple[Resolver, ...]:
    return tuple(_resolvers)


def registered() -> tuple[Projection, ...]:
    return tuple(_projections)
