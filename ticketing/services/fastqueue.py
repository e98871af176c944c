"""The fast path of the on-sale's busiest calls: joining the queue and polling a place.

Hand-written statements (see fastpath.py for why), each held by tests/test_fastpath.py to the
plain ORM's answer. A join is two statements on PostgreSQL: the buyer's lock with the type it asks
for and any request made earlier with its idempotency key (lock_buyer_and_read_type), then
join_queue, sent with the COMMIT; a poll is read_own_request and queue_counters_ahead.
"""

import functools

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections

from events.models import Event, TicketType
from ticketing.models import AuditEntry, Order, QueueCounter, TicketRequest, TicketTypeCounter
from ticketing.services import fastpath, places


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
            fastpath.bump_type_counters({(ticket_type_id, event_id): {column: 1}})
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


def join_queue(obj: TicketRequest, entry: AuditEntry, *, column: str, most_held: int) -> tuple:
    """Add a new request to its queue, unless its buyer already holds more than `most_held`
    tickets (tickets_held): take its number (take_queue_number, counting it in its type's counter
    `column`; a waiting-list arrival is counted as skipped in the queue at once), insert it with
    its audit entry. Returns (number, ahead, held); number and ahead are None, and nothing is
    written, when the buyer holds too many. obj.seq is the number.

    Call it under the buyer's row lock, which makes `held` true until the commit, as the last
    write of the outermost transaction: on PostgreSQL this is one statement, the join's only write,
    sent with the COMMIT (fastpath.execute_and_commit), so the counters it locks are free again as
    soon as the server is done. Every part reads the snapshot from before the insert, so `held`
    leaves out the new request. Elsewhere four statements.
    """
    assert column in ("queued", "waiting")
    connection = connections[DEFAULT_DB_ALIAS]
    skipped = int(column == "waiting")
    if connection.vendor != "postgresql":
        held = tickets_held(user_id=obj.user_id, event_id=obj.event_id)
        if held > most_held:
            return None, None, held
        obj.seq, ahead = take_queue_number(
            event_id=obj.event_id, priority=obj.priority, ticket_type_id=obj.ticket_type_id, column=column
        )
        fastpath.insert_with_audit(obj, entry, link="request_id")
        if skipped:
            places.count_left(event_id=obj.event_id, by_priority={obj.priority: 1}, how="skipped")
        return obj.seq, ahead, held
    fields, values = fastpath.insert_values(obj, connection, leave_out="seq")
    entry_fields, entry_values = fastpath.insert_values(entry, connection, leave_out="request_id")
    with connection.cursor() as cursor, fastpath.prepared(connection):
        fastpath.execute_and_commit(
            cursor,
            _join_sql(column, tuple(f.column for f in fields), tuple(f.column for f in entry_fields)),
            [obj.user_id, obj.event_id, *TicketRequest.PENDING, obj.user_id, obj.event_id, most_held]
            + [obj.ticket_type_id, obj.event_id, int(column == "queued"), skipped]
            + [obj.event_id, obj.priority, skipped, skipped, skipped]
            + [*values, *entry_values, obj.event_id, obj.priority],
        )
        held, number, ahead, obj.pk, entry.pk = cursor.fetchone()
    # (PostgreSQL sums bigints as numeric: Decimals here.)
    if number is None:
        return None, None, int(held)
    obj.seq, entry.request_id = number, obj.pk
    fastpath.mark_saved(obj, connection)
    fastpath.mark_saved(entry, connection)
    return number, int(ahead), int(held)


@functools.cache
def _join_sql(column: str, request_columns: tuple, entry_columns: tuple) -> str:
    qn = connection.ops.quote_name
    counters = qn(TicketTypeCounter._meta.db_table)
    queue = qn(QueueCounter._meta.db_table)
    requests = qn(TicketRequest._meta.db_table)
    orders = qn(Order._meta.db_table)
    audit = qn(AuditEntry._meta.db_table)
    # Nothing is written unless the buyer's tickets leave room (`ok`). The queue counter's upsert
    # reads its one row from the type counter's, so the type's row is locked first, the order
    # every writer uses; the request's INSERT reads its number from the queue counter's, and the
    # audit entry's its id from the request's.
    return (
        f"WITH held AS (SELECT (SELECT COALESCE(SUM(quantity), 0) FROM {requests}"
        "   WHERE user_id = %s AND event_id = %s AND status IN (%s, %s))"
        f"  + (SELECT COALESCE(SUM(active), 0) FROM {orders} WHERE user_id = %s AND event_id = %s) AS n),"
        " ok AS (SELECT 1 FROM held WHERE n <= %s),"
        f" bumped AS (INSERT INTO {counters}"
        " (ticket_type_id, event_id, queued, waiting, checked_in, cancelled)"
        " SELECT %s, %s, %s, %s, 0, 0 FROM ok ON CONFLICT (ticket_type_id)"
        f" DO UPDATE SET {column} = {counters}.{column} + 1 RETURNING 1),"
        f" place AS (INSERT INTO {queue} (event_id, priority, arrived, decided, skipped)"
        " SELECT %s, %s, 1, 0, %s FROM bumped"
        f" ON CONFLICT (event_id, priority) DO UPDATE SET arrived = {queue}.arrived + 1,"
        f" skipped = {queue}.skipped + %s"
        # `same` as before this arrival's own skip: the places behind a waiting one never count it.
        " RETURNING arrived, arrived - 1 - decided - skipped + %s AS same),"
        f" new AS (INSERT INTO {requests} ({', '.join(qn(c) for c in request_columns)}, seq)"
        f" SELECT {', '.join(['%s'] * len(request_columns))}, place.arrived FROM place RETURNING id),"
        f" entry AS (INSERT INTO {audit} ({', '.join(qn(c) for c in entry_columns)}, request_id)"
        f" SELECT {', '.join(['%s'] * len(entry_columns))}, new.id FROM new RETURNING request_id, id)"
        " SELECT held.n, place.arrived, place.same"
        f" + (SELECT COALESCE(SUM(h.arrived - h.decided - h.skipped), 0) FROM {queue} h"
        "  WHERE h.event_id = %s AND h.priority > %s), entry.request_id, entry.id"
        " FROM held LEFT JOIN (place CROSS JOIN entry) ON true"
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


# What a new request is judged by; other fields of the two load if they are ever read.
_EVENT_FIELDS = (
    "id",
    "name",
    "sale_opens_at",
    "sale_closes_at",
    "waiting_room_opens_at",
    "max_tickets_per_user",
    "cancelled_at",
    "time_zone",
    "currency",
)


_TYPE_FIELDS = ("id", "event_id", "name", "price", "capacity", "sold", "priority", "max_per_request")


def lock_buyer_and_read_type(
    *, user_id: int, ticket_type_id: int, idempotency_key: str | None = None
) -> tuple[bool, TicketType | None, TicketRequest | None]:
    """Lock the buyer's row until the transaction ends, and read the ticket type they ask for and
    the request they already made with this idempotency key.

    Returns (found, ticket_type, earlier): found is False when the account is gone or inactive;
    the type (with its event, and its waiting-list count as `waiting`) is None if there is no such
    type; earlier is None without a key or a request made with it. (On PostgreSQL a twin that
    committed while this statement waited for the lock is not seen: its key's unique constraint
    then refuses the second insert, and queue.enqueue_request reads the twin after that.)
    """
    with connection.cursor() as cursor, fastpath.prepared(connection):
        cursor.execute(_lock_and_read_sql(connection.vendor), [ticket_type_id, idempotency_key, user_id])
        row = cursor.fetchone()
    if row is None:
        return False, None, None
    n_event, n_type, n_request = len(_EVENT_FIELDS), len(_TYPE_FIELDS), len(_REQUEST_FIELDS)
    earlier = None
    if row[-n_request] is not None:
        earlier = fastpath.from_row(TicketRequest, _REQUEST_FIELDS, row[-n_request:])
    if row[n_event] is None:
        return True, None, earlier
    event = fastpath.from_row(Event, _EVENT_FIELDS, row[:n_event])
    ticket_type = fastpath.from_row(TicketType, _TYPE_FIELDS, row[n_event : n_event + n_type])
    ticket_type.event = event
    ticket_type.waiting = int(row[n_event + n_type] or 0)
    return True, ticket_type, earlier


_REQUEST_FIELDS = tuple(f.attname for f in TicketRequest._meta.concrete_fields)


@functools.cache
def _lock_and_read_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    # NO KEY UPDATE: a drain inserting this buyer's order (a foreign key) need not wait for it.
    lock = ""
    if connection.features.has_select_for_update:
        lock = f" {connection.ops.for_update_sql(of=('u',), no_key=True)}"
    columns = ", ".join(
        [f"e.{qn(f)}" for f in _EVENT_FIELDS]
        + [f"t.{qn(f)}" for f in _TYPE_FIELDS]
        + ["c.waiting"]
        + [f"r.{qn(f)}" for f in _REQUEST_FIELDS]
    )
    # A NULL key matches no request (NULL = NULL is not true).
    return (
        f"SELECT {columns} FROM {qn(get_user_model()._meta.db_table)} u"
        f" LEFT JOIN {qn(TicketType._meta.db_table)} t ON t.id = %s"
        f" LEFT JOIN {qn(Event._meta.db_table)} e ON e.id = t.event_id"
        f" LEFT JOIN {qn(TicketTypeCounter._meta.db_table)} c ON c.ticket_type_id = t.id"
        f" LEFT JOIN {qn(TicketRequest._meta.db_table)} r ON r.user_id = u.id AND r.idempotency_key = %s"
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
    ticket_request = fastpath.from_row(TicketRequest, _REQUEST_FIELDS, row[1 : 1 + n_request])
    ticket_request.event = fastpath.from_row(Event, _EVENT_FIELDS, row[1 + n_request :])
    return True, ticket_request


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
