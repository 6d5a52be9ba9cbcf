"""Small database helpers that the ORM cannot express portably (SQLite and PostgreSQL)."""
from django.db import connection


def upsert(model, rows, *, key, add=(), least=(), greatest=(), replace=()):
    """Insert rows or merge them into existing ones in one statement per chunk.

    `key` must match a unique constraint. On conflict, `add` columns are summed, `least`/`greatest`
    keep the smaller/larger non-null value and `replace` takes the new value. Rows are dicts keyed by
    field name; values are converted with each field's own database preparation.
    """
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in rows[0]]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [connection.ops.quote_name(f.column) for f in fields]
    column_of = {f.name: connection.ops.quote_name(f.column) for f in fields}
    pick_min, pick_max = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")

    def merge(name, function):
        col = column_of[name]
        if connection.vendor == "postgresql":
            return f"{col} = {function}({table}.{col}, excluded.{col})"
        # SQLite's two-argument min/max return NULL if either side is NULL.
        return f"{col} = {function}(COALESCE({table}.{col}, excluded.{col}), COALESCE(excluded.{col}, {table}.{col}))"

    updates = [f"{column_of[n]} = {table}.{column_of[n]} + excluded.{column_of[n]}" for n in add]
    updates += [merge(n, pick_min) for n in least]
    updates += [merge(n, pick_max) for n in greatest]
    updates += [f"{column_of[n]} = excluded.{column_of[n]}" for n in replace]
    conflict = ", ".join(column_of[n] for n in key)
    action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({conflict}) {action}"
    )
    params = [[f.get_db_prep_save(row[f.name], connection) for f in fields] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def chunked(items, size):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]
