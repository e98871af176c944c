"""The fast path: every statement EventTix writes by hand, and every private Django or DRF API it uses.

Each exists because the plain version cost the on-sale's hottest paths (joining the queue, the
drain) measurably more CPU (BENCHMARKS.md); each has a test in tests/test_fastpath.py holding it
to the plain ORM's (or DRF's) answer, so an upgrade breaks that one file loudly. The drain writes thousands
of rows per batch: on PostgreSQL they travel as one array per column (INSERT ... SELECT FROM
unnest), which the server parses far faster than a long VALUES list; SQLite gets VALUES.
"""

import copy
import functools

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.sql import Query

from events.models import Event, TicketType
from ticketing.models import AuditEntry, Order, QueueCounter, TicketRequest, TicketTypeCounter


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
    fields, values = _insert_values(obj, connection)
    [(obj.pk,)] = insert_rows(type(obj), [f.attname for f in fields], [values], returning=obj._meta.pk.column)
    _saved(obj, connection)


def _insert_values(obj, connection, *, leave_out: str = "") -> tuple[list, tuple]:
    """The fields a new instance inserts (all but its pk and `leave_out`) and their values, as save()
    prepares them (auto_now_add filled in)."""
    meta = obj._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk and f.attname != leave_out]
    return fields, tuple(f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields)


def _saved(obj, connection) -> None:
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
    fields, values = _insert_values(obj, connection)
    entry_fields, entry_values = _insert_values(entry, connection, leave_out=link)
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
    _saved(obj, connection)
    _saved(entry, connection)


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


def take_queue_number(*, event_id: int, priority: int, ticket_type_id: int, column: str) -> tuple[int, int]:
    """Count an arrival: add one to its type's counter `column` ("queued" or "waiting"), then upsert
    the QueueCounter, taking the next number. Returns (number, requests still queued ahead of it).

    Both rows stay locked until the transaction ends, taken in the order every writer uses (the
    type's counter first). `ahead` is selectors.requests_ahead for the newest place, where every
    skipped request of the priority lies before it. On PostgreSQL this is one statement: the
    busiest call, joining the queue, pays one round trip for both counters.
    """
    assert column in ("queued", "waiting")
    table = connection.ops.quote_name(QueueCounter._meta.db_table)
    upsert = (
        f"INSERT INTO {table} (event_id, priority, arrived, decided, skipped) {{source}}"
        f" ON CONFLICT (event_id, priority) DO UPDATE SET arrived = {table}.arrived + 1"
        " RETURNING arrived, arrived - 1 - decided - skipped,"
        f" (SELECT COALESCE(SUM(h.arrived - h.decided - h.skipped), 0) FROM {table} h"
        "  WHERE h.event_id = %s AND h.priority > %s)"
    )
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            bump_type_counters({(ticket_type_id, event_id): {column: 1}})
            cursor.execute(upsert.format(source="VALUES (%s, %s, 1, 0, 0)"), [event_id, priority] * 2)
        else:
            # The INSERT reads its one row from an aggregate over the type counter's upsert, so
            # that upsert has finished, and holds its row lock, before the queue counter is touched.
            counters = connection.ops.quote_name(TicketTypeCounter._meta.db_table)
            cursor.execute(
                f"WITH bumped AS (INSERT INTO {counters}"
                " (ticket_type_id, event_id, queued, waiting, checked_in, cancelled)"
                " VALUES (%s, %s, %s, %s, 0, 0) ON CONFLICT (ticket_type_id)"
                f" DO UPDATE SET {column} = {counters}.{column} + 1 RETURNING 1),"
                " counted AS (SELECT COUNT(*) FROM bumped) "
                + upsert.format(source="SELECT %s, %s, 1, 0, 0 FROM counted"),
                [ticket_type_id, event_id, int(column == "queued"), int(column == "waiting")]
                + [event_id, priority] * 2,
            )
        number, same, higher = cursor.fetchone()
    # (PostgreSQL sums bigints as numeric: a Decimal here.)
    return number, int(same + higher)


def join_queue(obj: TicketRequest, entry: AuditEntry, *, column: str) -> tuple[int, int, int]:
    """Add a new request to its queue: take its number (take_queue_number, counting it in its
    type's counter `column`), insert it with its audit entry, and read the tickets its buyer
    held before it (tickets_held). Returns (number, ahead, held); obj.seq is the number.

    Call it under the buyer's row lock, which makes `held` true until the commit. On PostgreSQL
    this is one statement, the join's only write: every part reads the snapshot from before the
    insert, so `held` leaves out the new request. Elsewhere four.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        held = tickets_held(user_id=obj.user_id, event_id=obj.event_id)
        obj.seq, ahead = take_queue_number(
            event_id=obj.event_id, priority=obj.priority, ticket_type_id=obj.ticket_type_id, column=column
        )
        insert_with_audit(obj, entry, link="request_id")
        return obj.seq, ahead, held
    assert column in ("queued", "waiting")
    fields, values = _insert_values(obj, connection, leave_out="seq")
    entry_fields, entry_values = _insert_values(entry, connection, leave_out="request_id")
    with connection.cursor() as cursor:
        cursor.execute(
            _join_sql(column, tuple(f.column for f in fields), tuple(f.column for f in entry_fields)),
            [obj.ticket_type_id, obj.event_id, int(column == "queued"), int(column == "waiting")]
            + [obj.event_id, obj.priority]
            + [obj.user_id, obj.event_id, *TicketRequest.PENDING, obj.user_id, obj.event_id]
            + [*values, *entry_values, obj.event_id, obj.priority],
        )
        number, ahead, held, obj.pk, entry.pk = cursor.fetchone()
    obj.seq, entry.request_id = number, obj.pk
    _saved(obj, connection)
    _saved(entry, connection)
    # (PostgreSQL sums bigints as numeric: Decimals here.)
    return number, int(ahead), int(held)


@functools.cache
def _join_sql(column: str, request_columns: tuple, entry_columns: tuple) -> str:
    qn = connection.ops.quote_name
    counters = qn(TicketTypeCounter._meta.db_table)
    queue = qn(QueueCounter._meta.db_table)
    requests = qn(TicketRequest._meta.db_table)
    orders = qn(Order._meta.db_table)
    audit = qn(AuditEntry._meta.db_table)
    # The queue counter's upsert reads its one row from an aggregate over the type counter's, so
    # the type's row is locked first, the order every writer uses; the request's INSERT reads
    # its number from the queue counter's, and the audit entry's its id from the request's.
    return (
        f"WITH bumped AS (INSERT INTO {counters}"
        " (ticket_type_id, event_id, queued, waiting, checked_in, cancelled)"
        " VALUES (%s, %s, %s, %s, 0, 0) ON CONFLICT (ticket_type_id)"
        f" DO UPDATE SET {column} = {counters}.{column} + 1 RETURNING 1),"
        " counted AS (SELECT COUNT(*) FROM bumped),"
        f" place AS (INSERT INTO {queue} (event_id, priority, arrived, decided, skipped)"
        " SELECT %s, %s, 1, 0, 0 FROM counted"
        f" ON CONFLICT (event_id, priority) DO UPDATE SET arrived = {queue}.arrived + 1"
        " RETURNING arrived, arrived - 1 - decided - skipped AS same),"
        f" held AS (SELECT (SELECT COALESCE(SUM(quantity), 0) FROM {requests}"
        "   WHERE user_id = %s AND event_id = %s AND status IN (%s, %s))"
        f"  + (SELECT COALESCE(SUM(active), 0) FROM {orders} WHERE user_id = %s AND event_id = %s) AS n),"
        f" new AS (INSERT INTO {requests} ({', '.join(qn(c) for c in request_columns)}, seq)"
        f" SELECT {', '.join(['%s'] * len(request_columns))}, place.arrived FROM place RETURNING id),"
        f" entry AS (INSERT INTO {audit} ({', '.join(qn(c) for c in entry_columns)}, request_id)"
        f" SELECT {', '.join(['%s'] * len(entry_columns))}, new.id FROM new RETURNING request_id, id)"
        " SELECT place.arrived, place.same"
        f" + (SELECT COALESCE(SUM(h.arrived - h.decided - h.skipped), 0) FROM {queue} h"
        "  WHERE h.event_id = %s AND h.priority > %s), held.n, entry.request_id, entry.id"
        " FROM place, held, entry"
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


def tickets_held(*, user_id: int, event_id: int) -> int:
    """Tickets a buyer holds for an event: in their queued or waiting requests, and bought."""
    requests = connection.ops.quote_name(TicketRequest._meta.db_table)
    orders = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COALESCE(SUM(quantity), 0) FROM {requests}"
            "  WHERE user_id = %s AND event_id = %s AND status IN (%s, %s)),"
            f" (SELECT COALESCE(SUM(active), 0) FROM {orders} WHERE user_id = %s AND event_id = %s)",
            [user_id, event_id, *TicketRequest.PENDING, user_id, event_id],
        )
        pending, bought = cursor.fetchone()
    return int(pending) + int(bought)


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


# What a new request is judged by; other fields of the two load if they are ever read.
_EVENT_FIELDS = (
    "id",
    "name",
    "sale_opens_at",
    "sale_closes_at",
    "waiting_room_opens_at",
    "max_tickets_per_user",
    "cancelled_at",
)
_TYPE_FIELDS = ("id", "event_id", "name", "price", "capacity", "sold", "priority", "max_per_request")


def lock_buyer_and_read_type(*, user_id: int, ticket_type_id: int) -> tuple[bool, TicketType | None]:
    """Lock the buyer's row until the transaction ends, and read the ticket type they ask for.

    Returns (found, ticket_type): found is False when the account is gone or inactive; the type
    (with its event, and its waiting-list count as `waiting`) is None if there is no such type.
    """
    with connection.cursor() as cursor:
        cursor.execute(_lock_and_read_sql(connection.vendor), [ticket_type_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return False, None
    n_event, n_type = len(_EVENT_FIELDS), len(_TYPE_FIELDS)
    if row[n_event] is None:
        return True, None
    event = _from_row(Event, _EVENT_FIELDS, row[:n_event])
    ticket_type = _from_row(TicketType, _TYPE_FIELDS, row[n_event : n_event + n_type])
    ticket_type.event = event
    ticket_type.waiting = int(row[n_event + n_type] or 0)
    return True, ticket_type


@functools.cache
def _lock_and_read_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    # NO KEY UPDATE: a drain inserting this buyer's order (a foreign key) need not wait for it.
    lock = ""
    if connection.features.has_select_for_update:
        lock = f" {connection.ops.for_update_sql(of=('u',), no_key=True)}"
    columns = ", ".join(
        [f"e.{qn(f)}" for f in _EVENT_FIELDS] + [f"t.{qn(f)}" for f in _TYPE_FIELDS] + ["c.waiting"]
    )
    return (
        f"SELECT {columns} FROM {qn(get_user_model()._meta.db_table)} u"
        f" LEFT JOIN {qn(TicketType._meta.db_table)} t ON t.id = %s"
        f" LEFT JOIN {qn(Event._meta.db_table)} e ON e.id = t.event_id"
        f" LEFT JOIN {qn(TicketTypeCounter._meta.db_table)} c ON c.ticket_type_id = t.id"
        f" WHERE u.id = %s AND u.is_active{lock}"
    )


def read_own_request(*, user_id: int, request_id: int) -> tuple[bool, TicketRequest | None]:
    """A buyer's own request with its event, for polling its place: one statement, no ORM.

    Returns (active, request): active is False when the account is gone or deactivated (the
    poll authenticates from its token alone, as joining does); the request is None when there
    is no such request of this buyer's.
    """
    with connection.cursor() as cursor:
        cursor.execute(_own_request_sql(connection.vendor), [request_id, user_id])
        row = cursor.fetchone()
    if row is None or not row[0]:
        return False, None
    n_request = len(_REQUEST_FIELDS)
    if row[1] is None:
        return True, None
    ticket_request = _from_row(TicketRequest, _REQUEST_FIELDS, row[1 : 1 + n_request])
    ticket_request.event = _from_row(Event, _EVENT_FIELDS, row[1 + n_request :])
    return True, ticket_request


_REQUEST_FIELDS = tuple(f.attname for f in TicketRequest._meta.concrete_fields)


@functools.cache
def _own_request_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    columns = ", ".join(
        ["u.is_active"] + [f"r.{qn(f)}" for f in _REQUEST_FIELDS] + [f"e.{qn(f)}" for f in _EVENT_FIELDS]
    )
    return (
        f"SELECT {columns} FROM {qn(get_user_model()._meta.db_table)} u"
        f" LEFT JOIN {qn(TicketRequest._meta.db_table)} r ON r.id = %s AND r.user_id = u.id"
        f" LEFT JOIN {qn(Event._meta.db_table)} e ON e.id = r.event_id"
        " WHERE u.id = %s"
    )


def queue_counters_ahead(*, event_id: int, priority: int, seq: int) -> list[tuple]:
    """The rows selectors.requests_ahead adds up, for a request at (priority, seq): each priority's
    (priority, arrived, decided, skipped, skipped before seq in this priority) from the event's
    queue counters of this priority and higher. One statement, built once."""
    with connection.cursor() as cursor:
        cursor.execute(_counters_ahead_sql(connection.vendor), [priority, event_id, seq, event_id, priority])
        return cursor.fetchall()


@functools.cache
def _counters_ahead_sql(vendor: str) -> str:
    counters = connection.ops.quote_name(QueueCounter._meta.db_table)
    requests = connection.ops.quote_name(TicketRequest._meta.db_table)
    return (
        f"SELECT c.priority, c.arrived, c.decided, c.skipped, CASE WHEN c.priority = %s THEN"
        f" (SELECT COUNT(*) FROM {requests} s WHERE s.event_id = %s AND s.priority = c.priority"
        "   AND s.skipped AND s.seq < %s) ELSE 0 END"
        f" FROM {counters} c WHERE c.event_id = %s AND c.priority >= %s"
    )


def _from_row(model, attnames, values):
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
