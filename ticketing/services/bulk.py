"""Writing many rows in one statement, without building a model instance per row.

The drain writes thousands of rows per batch; Django's bulk_create spends most of its time
preparing each field of each instance. These helpers take plain tuples of values already in
database form. On PostgreSQL the rows travel as one array per column (INSERT ... SELECT FROM
unnest), which the server parses far faster than a long VALUES list; SQLite gets VALUES.
"""

from django.db import DEFAULT_DB_ALIAS, connection, connections


def insert_rows(model, columns: list[str], rows: list[tuple], *, returning: str = "") -> list[tuple]:
    """INSERT rows (tuples in the order of columns, given as field attnames); the RETURNING rows."""
    if not rows:
        return []
    # Resolved once: each use of the `connection` proxy is a thread-local lookup, and the
    # request path inserts rows of a dozen fields.
    connection = connections[DEFAULT_DB_ALIAS]
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    tail = f" RETURNING {returning}" if returning else ""
    fetched = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) > 1:
            casts = ", ".join(f"%s::{model._meta.get_field(c).db_type(connection)}[]" for c in columns)
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT * FROM unnest({casts}){tail}",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return cursor.fetchall() if returning else []
        # Under the parameter limit (999 on SQLite), at most 1000 rows per statement.
        size = max(1, min(1000, (connection.features.max_query_params or 65535) // len(columns)))
        row_sql = f"({', '.join(['%s'] * len(columns))})"
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([row_sql] * len(chunk))}{tail}",
                [value for row in chunk for value in row],
            )
            if returning:
                fetched.extend(cursor.fetchall())
    return fetched


def insert_instance(obj) -> None:
    """INSERT a new model instance in one statement and set its pk: save() without its machinery.

    The request path's inserts spend less time in Python this way. No signals are sent
    (EventTix connects none); auto_now_add fields are filled in as save() would.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    meta = obj._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk]
    values = tuple(f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields)
    [(obj.pk,)] = insert_rows(type(obj), [f.attname for f in fields], [values], returning=meta.pk.column)
    obj._state.adding = False
    obj._state.db = connection.alias


def id_list_sql(ids: list[int]) -> tuple[str, list]:
    """A `column <this>` test for membership in ids, and its parameters."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(ids)]
    return f"IN ({', '.join(['%s'] * len(ids))})", list(ids)


def set_column(model, column: str, values: dict[int, int], *, clear: str = "") -> None:
    """UPDATE one integer column of many rows, each to its own value ({pk: value}).

    `clear` names another column that those rows get set to NULL in the same statement.
    """
    if not values:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    name = connection.ops.quote_name(column)
    also = f", {connection.ops.quote_name(clear)} = NULL" if clear else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS t SET {name} = v.value{also} FROM unnest(%s::bigint[], %s::bigint[])"
                " AS v(pk, value) WHERE t.id = v.pk",
                [list(values), list(values.values())],
            )
            return
        items = list(values.items())
        for start in range(0, len(items), 400):
            chunk = items[start : start + 400]
            pairs = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"WITH v(pk, value) AS (VALUES {pairs}) UPDATE {table} SET {name} ="
                f" (SELECT value FROM v WHERE v.pk = {table}.id){also} WHERE id IN (SELECT pk FROM v)",
                [x for pair in chunk for x in pair],
            )
