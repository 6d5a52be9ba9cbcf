"""Small database helpers that the ORM cannot express portably (SQLite and PostgreSQL)."""
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone as dt_timezone
from operator import itemgetter
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

T = TypeVar("T")
Adapter = Callable[[Any], Any]


UTC = dt_timezone.utc


def sqlite_datetime(value: datetime | None) -> str | None:
    """An aware datetime as Django stores it in SQLite: naive UTC text ("2026-05-01 12:00:00.250000")."""
    if value is None:
        return None
    if value.tzinfo is UTC:
        return str(value)[:-6]  # drop "+00:00"; ingest hands over UTC datetimes, so this is the hot path
    return str(value.astimezone(UTC).replace(tzinfo=None))


def column_field(model: type[models.Model], name: str) -> models.Field:
    """The field of `model` called `name` that has a column (not a reverse relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} has no column")
    return field


def column_name(field: models.Field | None) -> str:
    if field is None or field.column is None:
        raise TypeError(f"{field} has no column")
    return field.column


def value_adapter(field: models.Field, connection: BaseDatabaseWrapper) -> Adapter | None:
    """A function turning a Python value into the database value of `field`, chosen once per column.

    Same result as `field.get_db_prep_save(value, connection)` for the column types hot paths write,
    without Django's per-value dispatch.
    """
    if connection.vendor == "sqlite" and isinstance(field, models.DateTimeField):
        return sqlite_datetime
    if connection.vendor == "sqlite" and isinstance(field, models.DateField):
        return lambda value: None if value is None else value.isoformat()
    if isinstance(field, (models.DateField, models.IntegerField, models.CharField, models.ForeignKey)):
        return None  # the driver takes the value as it is
    return lambda value: field.get_db_prep_save(value, connection)


def row_params(rows: Sequence[Mapping[str, Any]], names: Sequence[str], adapters: Sequence[Adapter | None]) -> list[Any]:
    """The parameter rows of an executemany: each row's values of `names`, adapted where a column has an adapter.

    A hot path (every projection's upsert): the values come out by one itemgetter call and only the
    adapted columns (on SQLite: the datetimes) are touched one by one.
    """
    pick = itemgetter(*names)
    adapted = [(position, adapt) for position, adapt in enumerate(adapters) if adapt is not None]
    if len(names) == 1:
        return [[adapters[0](value) if adapted else value] for value in map(pick, rows)]  # type: ignore[misc]
    if not adapted:
        return list(map(pick, rows))
    params = []
    for row in rows:
        values = list(pick(row))
        for position, adapt in adapted:
            values[position] = adapt(values[position])
        params.append(values)
    return params


def upsert(
    model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, key: Sequence[str], add: Sequence[str] = (),
    least: Sequence[str] = (), greatest: Sequence[str] = (), using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Insert rows or merge them into existing ones, in one executemany.

    `key` must match a unique constraint. On conflict, `add` columns are summed, `least`/`greatest`
    keep the smaller/larger non-null value. Rows are dicts keyed by
    field name, all with the same keys.
    """
    if not rows:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = [column_field(model, name) for name in rows[0]]
    table = quote(model._meta.db_table)
    column_of = {f.name: quote(column_name(f)) for f in fields}
    pick_min, pick_max = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")

    def merge(name: str, function: str) -> str:
        col = column_of[name]
        if connection.vendor == "postgresql":
            return f"{col} = {function}({table}.{col}, excluded.{col})"
        # SQLite's two-argument min/max return NULL if either side is NULL.
        return f"{col} = {function}(COALESCE({table}.{col}, excluded.{col}), COALESCE(excluded.{col}, {table}.{col}))"

    updates = [f"{column_of[n]} = {table}.{column_of[n]} + excluded.{column_of[n]}" for n in add]
    updates += [merge(n, pick_min) for n in least]
    updates += [merge(n, pick_max) for n in greatest]
    conflict = ", ".join(column_of[n] for n in key)
    action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
    sql = (
        f"INSERT INTO {table} ({', '.join(column_of[f.name] for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT ({conflict}) {action}"
    )
    params = row_params(rows, [f.name for f in fields], [value_adapter(f, connection) for f in fields])
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def insert_many(model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """INSERT rows (dicts keyed by field name, all with the same keys) in one executemany."""
    if not rows:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    names = list(rows[0])
    fields = [column_field(model, name) for name in names]
    adapters = [value_adapter(f, connection) for f in fields]
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(column_name(f)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    params = row_params(rows, names, adapters)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def update_many(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence[Any]], *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """UPDATE each row's `field_names` by primary key in one executemany; rows are (pk, *values)."""
    if not rows:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = [column_field(model, name) for name in field_names]
    adapters = [value_adapter(f, connection) for f in fields]
    assignments = ", ".join(f"{quote(column_name(f))} = %s" for f in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(column_name(model._meta.pk))} = %s"
    params = [
        [value if adapt is None else adapt(value) for adapt, value in zip(adapters, values)] + [pk]
        for pk, *values in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def update_by_field_set(
    model: type[models.Model], changes: Mapping[Any, Mapping[str, Any]], *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Apply {pk: {field: value}}: one executemany per distinct set of fields."""
    by_fields: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for pk, fields in changes.items():
        if fields:
            names = tuple(sorted(fields))
            by_fields.setdefault(names, []).append((pk, *(fields[n] for n in names)))
    for names, rows in by_fields.items():
        update_many(model, names, rows, using=using)


def fetch_existing(
    table: str, columns: Sequence[str], *, filters: Mapping[str, Any], key: str, values: Iterable[Any],
    using: str = DEFAULT_DB_ALIAS,
) -> list[tuple[Any, ...]]:
    """`columns` of the rows of `table` matching `filters` whose `key` column is one of `values`.

    Meant for lookups on a unique index (filters + key). SQLite: an IN list per 900 values.
    PostgreSQL: a join against unnest(array), so every probe is an equality on the unique index
    whatever the planner's statistics say (a never-analysed table otherwise gets a scan per batch).
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    where = " AND ".join(f"t.{quote(column)} = %s" for column in filters)
    selected = ", ".join(f"t.{quote(column)}" for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT {selected} FROM unnest(%s::text[]) AS wanted(value) "
                f"JOIN {quote(table)} t ON {where} AND t.{quote(key)} = wanted.value",
                [list(values), *filters.values()],
            )
            return cursor.fetchall()
        rows = []
        for chunk in chunked(values, 900):
            cursor.execute(
                f"SELECT {selected} FROM {quote(table)} t "
                f"WHERE {where} AND t.{quote(key)} IN ({', '.join(['%s'] * len(chunk))})",
                [*filters.values(), *chunk],
            )
            rows += cursor.fetchall()
        return rows


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]
