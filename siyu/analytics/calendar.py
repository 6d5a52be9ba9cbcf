"""Local days of a workspace's time zone, in Python and inside SQL (SQLite and PostgreSQL)."""
import functools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import overload
from zoneinfo import ZoneInfo

from siyu.core.db import sqlite_datetime

SAFE_ZONE = re.compile(r"^[A-Za-z0-9_+\-/]+$")
# SQLite has no time zone database: a zone's UTC offsets are written into the query as a CASE over
# its transitions in this range (outside it the nearest offset applies).
SPAN = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2060, 1, 1, tzinfo=UTC))


def day_start(tz: tzinfo, day: date) -> datetime:
    """The UTC instant a local day starts."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_day(tz: tzinfo, moment: datetime) -> date:
    return moment.astimezone(tz).date()


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@functools.lru_cache(maxsize=64)
def transitions(zone_name: str) -> list[tuple[datetime, int]]:
    """[(utc instant from which the offset applies, offset in minutes)], first entry from SPAN start."""
    tz = ZoneInfo(zone_name)

    def offset(moment: datetime) -> int:
        utc_offset = moment.astimezone(tz).utcoffset()
        assert utc_offset is not None  # an aware datetime in a ZoneInfo zone has one
        return int(utc_offset.total_seconds() // 60)

    moment, current = SPAN[0], offset(SPAN[0])
    changes = [(moment, current)]
    step = timedelta(days=1)
    while moment < SPAN[1]:
        following = moment + step
        if offset(following) != current:
            low, high = moment, following  # bisect to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            current = offset(high)
            changes.append((high.replace(second=0, microsecond=0), current))
        moment = following
    return changes


def local_day_sql(column: str, zone_name: str, vendor: str) -> str:
    """An SQL expression for the local day of a UTC timestamp column (a date on PostgreSQL, text on SQLite)."""
    if not SAFE_ZONE.match(zone_name):
        raise ValueError(f"unexpected time zone name {zone_name!r}")
    if vendor == "postgresql":
        return f"(({column}) AT TIME ZONE '{zone_name}')::date"
    changes = transitions(zone_name)
    if len(changes) == 1:
        return f"date({column}, '{changes[0][1]:+d} minutes')"
    branches = " ".join(
        f"WHEN {column} < '{sqlite_datetime(start)}' THEN '{previous:+d} minutes'"
        for (start, _), (_, previous) in zip(changes[1:], changes[:-1])
    )
    return f"date({column}, CASE {branches} ELSE '{changes[-1][1]:+d} minutes' END)"


@overload
def as_date(value: None) -> None: ...
@overload
def as_date(value: date | str) -> date: ...
@overload
def as_date(value: object) -> date | None: ...
def as_date(value: object) -> date | None:
    """A date from what a cursor returns for a day column or expression."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


@overload
def aware(value: None) -> None: ...
@overload
def aware(value: datetime | str) -> datetime: ...
@overload
def aware(value: object) -> datetime | None: ...
def aware(value: object) -> datetime | None:
    """An aware UTC datetime from what a cursor returns for a timestamp (text or naive on SQLite)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)
