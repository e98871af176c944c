"""The fast path: the statements EventTix writes by hand, and every private Django or DRF API it uses.

Each exists because the plain version cost the on-sale's hottest paths (joining the queue, the
drain) measurably more CPU (BENCHMARKS.md); each has a test in tests/test_fastpath.py holding it
to the plain ORM's (or DRF's) answer, so an upgrade breaks that one file loudly. The drain writes
thousands of rows per batch: on PostgreSQL they travel as one array per column (INSERT ... SELECT
FROM unnest), which the server parses far faster than a long VALUES list; SQLite gets VALUES.
Joining the queue and polling a place have their statements in fastqueue.py.
"""

import contextlib
import copy
import functools

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.sql import Query

from ticketing.models import AuditEntry, Order, TicketRequest, TicketTypeCounter


@contextlib.contextmanager
def prepared(connection):
    """Statements run inside are prepared on PostgreSQL: each connection plans them once.

    For the join's statements only, whose planning cost the server more than running them (EXPLAIN
    ANALYZE: 0.3-0.4 ms of planning against 0.1-0.5 ms of execution). Preparing every statement
    (psycopg's prepare_threshold) was measured to slow the drain (BENCHMARKS.md), so the threshold
    is set only around these. Elsewhere nothing changes.
    """
    if connection.vendor != "postgresql":
        yield
        return
    raw = connection.connection
    saved, raw.prepare_threshold = raw.prepare_threshold, 0
    try:
        yield
    finally:
        raw.prepare_threshold = saved


def execute_and_commit(cursor, sql: str, params: list) -> None:
    """Run the last statement of the outermost transaction and send its COMMIT with it.

    On PostgreSQL both go in one round trip (psycopg's pipeline mode), so the rows the statement
    locks are held for as long as the server takes, not for as long as a busy web process takes to
    come back and send the COMMIT: under a crowd, the queue's counter rows were held through
    that wait and every arrival queued behind them. Django's own COMMIT as the atomic block ends
    then finds nothing to commit, and its on_commit callbacks run as usual. Nothing may be
    written after this call in the same block, which must be durable (transaction.atomic(durable=True)).
    Elsewhere, or inside an enclosing transaction (a test's), it is a plain execute and Django
    commits as usual.
    """
    connection = cursor.db
    # The caller's own durable block, alone: never a test's enclosing transaction.
    blocks = connection.atomic_blocks
    outermost = len(blocks) == 1 and blocks[0].durable and connection.commit_on_exit
    if connection.vendor != "postgresql" or not outermost:
        cursor.execute(sql, params)
        return
    with connection.wrap_database_errors, connection.connection.pipeline():
        cursor.execute(sql, params)
        connection.connection.commit()


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
    fields, values = insert_values(obj, connection)
    [(obj.pk,)] = insert_rows(type(obj), [f.attname for f in fields], [values], returning=obj._meta.pk.column)
    mark_saved(obj, connection)


def insert_values(obj, connection, *, leave_out: str = "") -> tuple[list, tuple]:
    """The fields a new instance inserts (all but its pk and `leave_out`) and their values, as save()
    prepares them (auto_now_add filled in)."""
    meta = obj._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk and f.attname != leave_out]
    return fields, tuple(f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields)


def mark_saved(obj, connection) -> None:
    obj._state.adding = False
    obj._state.db = connection.alias


def insert_with_audit(obj, entry: AuditEntry, *, link: str) -> None:
    """insert_instance(obj), then insert_instance(entry) with obj's pk as its field `link`.

    On PostgreSQL one statement does both (the row and its audit entry, a round trip less on the
    path that joins the queue); elsewhere two inserts.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        insert_instance(obj)
        setattr(entry, link, obj.pk)
        insert_instance(entry)
        return
    qn = connection.ops.quote_name
    fields, values = insert_values(obj, connection)
    entry_fields, entry_values = insert_values(entry, connection, leave_out=link)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH new AS (INSERT INTO {qn(obj._meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"
            f" VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn(obj._meta.pk.column)} AS pk)"
            f" INSERT INTO {qn(entry._meta.db_table)}"
            f" ({', '.join(qn(f.column) for f in entry_fields)}, {qn(link)})"
            f" SELECT {', '.join(['%s'] * len(entry_fields))}, new.pk FROM new"
            f" RETURNING {qn(link)}, {qn(entry._meta.pk.column)}",
            [*values, *entry_values],
        )
        obj.pk, entry.pk = cursor.fetchone()
    setattr(entry, link, obj.pk)
    mark_saved(obj, connection)
    mark_saved(entry, connection)


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


def bump_type_counters(deltas: dict[tuple[int, int], dict[str, int]]) -> None:
    """Add to TicketTypeCounter rows, creating them: {(ticket_type_id, event_id): {column: delta}}.

    Rows are locked in ticket type order, the order every writer uses.
    """
    table = connection.ops.quote_name(TicketTypeCounter._meta.db_table)
    columns = ("queued", "waiting", "checked_in", "cancelled")
    with connection.cursor() as cursor:
        for (type_id, event_id), change in sorted(deltas.items()):
            values = [change.get(c, 0) for c in columns]
            if not any(values):
                continue
            sets = ", ".join(f"{c} = {c} + %s" for c in columns)
            cursor.execute(f"UPDATE {table} SET {sets} WHERE ticket_type_id = %s", [*values, type_id])
            if cursor.rowcount:
                continue
            # The type's first count. (Not one upsert: the CHECK constraint judges the row an
            # INSERT proposes before any conflict, so a negative change could not go through it.)
            sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
            cursor.execute(
                f"INSERT INTO {table} (ticket_type_id, event_id, {', '.join(columns)})"
                f" VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (ticket_type_id) DO UPDATE SET {sets}",
                [type_id, event_id, *values],
            )


def insert_request_audit(*, request_ids: list[int], created_at, actor_id: int | None = None) -> None:
    """One audit entry per request, in queue order, from the request rows as they now stand.

    The request's status names the entry's kind (the two choice sets share those values); a
    fulfilled request's entry names its order and total.
    """
    created = AuditEntry._meta.get_field("created_at").get_db_prep_save(created_at, connection)
    membership, params = id_list_sql(request_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditEntry._meta.db_table} (created_at, kind, event_id, ticket_type_id,"
            " request_id, order_id, user_id, actor_id, quantity, amount, reason, ticket_id, csv_logged)"
            " SELECT %s, r.status, r.event_id, r.ticket_type_id, r.id, o.id, r.user_id, %s, r.quantity,"
            f" o.total, r.reason, NULL, %s FROM {TicketRequest._meta.db_table} r"
            f" LEFT JOIN {Order._meta.db_table} o ON o.request_id = r.id"
            f" WHERE r.id {membership} ORDER BY r.priority DESC, r.seq",
            [created, actor_id, False, *params],
        )


def from_row(model, attnames, values):
    """A model instance from some of its columns, converted as the ORM converts them (a private API)."""
    fields = _fields_of(model, tuple(attnames))
    given = dict(zip(attnames, values, strict=True))
    attnames, values = [f.attname for f in fields], [given[f.attname] for f in fields]
    # Building the compiler costs more than the rest: only where some field needs converting
    # (SQLite's dates and decimals; none of these on PostgreSQL, whose driver returns them typed).
    if _needs_converters(connection.vendor, model, fields):
        compiler = Query(model).get_compiler(connection=connection)
        converters = compiler.get_converters([f.get_col(model._meta.db_table) for f in fields])
        [values] = compiler.apply_converters([values], converters)
    return model.from_db(connection.alias, attnames, values)


@functools.cache
def _fields_of(model, attnames: tuple) -> tuple:
    return tuple(f for f in model._meta.concrete_fields if f.attname in attnames)


@functools.cache
def _needs_converters(vendor: str, model, fields: tuple) -> bool:
    compiler = Query(model).get_compiler(connection=connection)
    return bool(compiler.get_converters([f.get_col(model._meta.db_table) for f in fields]))


def shallow_fields(serializer) -> dict:
    """A flat serializer's declared fields, copied shallowly for one use (DRF's private
    `_declared_fields`): DRF deep-copies them for every instance, a tenth of a 202's CPU. Safe for
    fields whose only per-use state is what bind() sets (no nested serializers, no callable
    defaults with context): their validators are built once and only read."""
    return {name: copy.copy(field) for name, field in serializer._declared_fields.items()}
