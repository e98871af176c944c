"""The ledger: the only code that changes the state of a request, an order or a ticket.

Each function moves the rows, the counters that count them (TicketType.sold, TicketTypeCounter,
QueueCounter), writes one audit entry per change, and records what must follow the commit (an
email in the outbox, a wake-up of the drain), all in the caller's transaction. The services
decide what happens; the ledger writes it. Every function here must run inside
transaction.atomic, with the rows it moves locked by the caller, as each docstring says.

Locks are taken in one order everywhere: event, requests, ticket types (sold), type counters,
queue counters; several rows of one table in id order.
"""

from collections import Counter, defaultdict
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import F

from events.models import Event, TicketType
from ticketing.models import (
    AuditEntry,
    Order,
    OutboxEmail,
    Ticket,
    TicketRequest,
    new_qr_token,
)
from ticketing.services import fastpath, fastqueue, places, wakeups

Status = TicketRequest.Status
Kind = AuditEntry.Kind


class Pending(NamedTuple):
    """A queued or waiting request as the ledger moves it: plain values, no model instance."""

    pk: int
    event_id: int
    user_id: int
    ticket_type_id: int
    priority: int
    quantity: int
    unit_price: Decimal
    wait_if_sold_out: bool
    status: str

    FIELDS = (
        "pk",
        "event_id",
        "user_id",
        "ticket_type_id",
        "priority",
        "quantity",
        "unit_price",
        "wait_if_sold_out",
        "status",
    )


def lock_pending(queryset, *, limit: int | None = None) -> list[Pending]:
    """Lock the requests of queryset (in its order, up to limit) and read them as Pending.

    FOR NO KEY UPDATE of the request rows alone: movers exclude each other, while an order being
    inserted for a request (a foreign key takes KEY SHARE) need not wait.
    """
    rows = queryset.select_for_update(no_key=True, of=("self",)).values_list(*Pending.FIELDS)
    return [Pending(*row) for row in (rows[:limit] if limit is not None else rows)]


class Move(NamedTuple):
    request: Pending
    to: str
    reason: str = ""


class CounterConflict(Exception):
    """A counter did not move as the locked rows promised; the transaction must roll back."""


# Requests


def add_request(ticket_request: TicketRequest, *, most_held: int) -> tuple[places.Place | None, int]:
    """Record a new request, queued or waiting: give it its place, insert it, count it, audit it,
    unless its buyer already holds more than `most_held` tickets. Returns its place (None when
    nothing was written) and the tickets its buyer held before it (fastqueue.tickets_held).

    Call under the buyer's row lock, as the last write of the transaction: the type's counter and
    then the queue counter (the lock order every writer uses) are locked until it ends, and on
    PostgreSQL the statement goes with the COMMIT (fastqueue.join_queue).
    """
    r = ticket_request
    waiting = r.status == Status.WAITING
    entry = AuditEntry(
        kind=Kind(r.status),
        event_id=r.event_id,
        ticket_type_id=r.ticket_type_id,
        user_id=r.user_id,
        quantity=r.quantity,
        amount=r.unit_price * r.quantity,
    )
    # A waiting-list arrival leaves the queue as it joins: the places behind it never count it.
    number, ahead, held = fastqueue.join_queue(
        r, entry, column="waiting" if waiting else "queued", most_held=most_held
    )
    if number is None:
        return None, held
    # A waiting-room arrival (it has a draw) waits for the opening, which wakes the drain itself.
    if not waiting and r.draw is None:
        event_id = r.event_id
        transaction.on_commit(lambda: wakeups.request_drain(event_id), robust=True)
    return places.Place(number, ahead), held


def move_requests(*, moves: list[Move], now, in_turn: bool, actor_id: int | None = None) -> int:
    """Move queued or waiting requests (locked by the caller) to their new status; return tickets sold.

    `in_turn` is True for the drain, which decides requests in queue order; False for requests
    leaving early (cancelled), which the queue counters count as skipped. A move to fulfilled
    sells the tickets with a conditional UPDATE (raising CounterConflict if they are not there),
    creates the order and its tickets and owes the buyer an email.
    """
    if not moves:
        return 0
    fulfilled = [m.request for m in moves if m.to == Status.FULFILLED]
    sold = Counter()
    for r in fulfilled:
        sold[r.ticket_type_id] += r.quantity
    for type_id, n in sorted(sold.items()):
        moved = TicketType.objects.filter(pk=type_id, sold__lte=F("capacity") - n).update(sold=F("sold") + n)
        if moved != 1:
            raise CounterConflict(f"ticket type {type_id} could not take {n} more")

    groups = defaultdict(list)
    for m in moves:
        skip = not in_turn and m.request.status == Status.QUEUED
        groups[(m.to, m.reason, skip)].append(m.request.pk)
    for (to, reason, skip), ids in groups.items():
        changes = {"status": to, "reason": reason, "processed_at": now}
        if skip:
            changes["skipped"] = True
        TicketRequest.objects.filter(pk__in=ids).update(**changes)

    orders = _insert_orders(fulfilled=fulfilled, now=now) if fulfilled else []
    _insert_tickets(orders=orders, fulfilled=fulfilled)
    fastpath.insert_request_audit(
        request_ids=[m.request.pk for m in moves], created_at=now, actor_id=actor_id
    )
    _owe_emails(
        [
            (
                OutboxEmail.Kind.WAITING_LIST_SERVED
                if r.status == Status.WAITING
                else OutboxEmail.Kind.ORDER_CONFIRMED,
                r.user_id,
                r.event_id,
                order_id,
            )
            for order_id, r in zip(orders, fulfilled, strict=True)
        ],
        now=now,
    )

    # The counters last, just before the commit: arrivals wait on these rows while they are locked.
    counts = defaultdict(Counter)
    left_queue = Counter()
    for m in moves:
        r = m.request
        key = (r.ticket_type_id, r.event_id)
        counts[key][r.status] -= 1  # the counters' columns are named as the pending statuses
        if m.to == Status.WAITING:
            counts[key]["waiting"] += 1
        if r.status == Status.QUEUED:
            left_queue[r.priority] += 1
    fastpath.bump_type_counters(counts)
    # The queue counter row after them, in the order every writer locks.
    event_id = moves[0].request.event_id
    places.count_left(event_id=event_id, by_priority=left_queue, how="decided" if in_turn else "skipped")

    return sum(sold.values())


def _insert_orders(*, fulfilled: list[Pending], now) -> list[int]:
    """One order per fulfilled request, at the price the request was accepted at; ids in that order."""
    fields = {f.name: f for f in Order._meta.concrete_fields}

    def prep(name, value):
        return fields[name].get_db_prep_save(value, connection)

    created, refunded = prep("created_at", now), prep("refunded", 0)
    # Prepared once per price and quantity: the drain writes hundreds of orders a batch, most alike.
    amounts = {}
    rows = []
    for r in fulfilled:
        key = (r.unit_price, r.quantity)
        if key not in amounts:
            amounts[key] = (prep("unit_price", r.unit_price), prep("total", r.unit_price * r.quantity))
        unit_price, total = amounts[key]
        rows.append(
            (
                r.pk,
                r.user_id,
                r.event_id,
                r.ticket_type_id,
                Order.Status.CONFIRMED,
                r.quantity,
                r.quantity,
                unit_price,
                total,
                refunded,
                created,
            )
        )
    columns = [
        "request_id",
        "user_id",
        "event_id",
        "ticket_type_id",
        "status",
        "quantity",
        "active",
        "unit_price",
        "total",
        "refunded",
        "created_at",
    ]
    by_request = dict(fastpath.insert_rows(Order, columns, rows, returning="request_id, id"))
    return [by_request[r.pk] for r in fulfilled]


def _insert_tickets(*, orders: list[int], fulfilled: list[Pending]) -> None:
    """One ticket per admission, each with a fresh QR token."""
    rows = [
        (order_id, r.ticket_type_id, new_qr_token(), Ticket.Status.VALID)
        for order_id, r in zip(orders, fulfilled, strict=True)
        for _ in range(r.quantity)
    ]
    fastpath.insert_rows(Ticket, ["order_id", "ticket_type_id", "qr_token", "status"], rows)


# Orders and tickets


def cancel_tickets(
    *, order: Order, ticket_ids: list[int], now, reason: str, actor_id: int | None, notify: bool = True
) -> None:
    """Cancel valid tickets of one order and give them back; the order (locked by the caller) follows.

    Raises CounterConflict unless every ticket named was valid: a checked-in or already cancelled
    ticket is refused before this is called, and a race is caught here by the conditional UPDATE.
    """
    n = Ticket.objects.filter(pk__in=ticket_ids, order=order, status=Ticket.Status.VALID).update(
        status=Ticket.Status.CANCELLED, cancelled_at=now
    )
    if n != len(set(ticket_ids)) or not n:
        raise CounterConflict(f"order {order.pk}: {len(ticket_ids)} tickets to cancel, {n} were valid")
    if TicketType.objects.filter(pk=order.ticket_type_id, sold__gte=n).update(sold=F("sold") - n) != 1:
        raise CounterConflict(f"ticket type {order.ticket_type_id} has fewer than {n} sold")
    fastpath.bump_type_counters({(order.ticket_type_id, order.event_id): {"cancelled": n}})
    order.active -= n
    order.status = Order.Status.CANCELLED if order.active == 0 else Order.Status.PARTLY_CANCELLED
    order.cancelled_at = now if order.active == 0 else order.cancelled_at
    order.save(update_fields=["active", "status", "cancelled_at"])
    common = {**_order_refs(order), "actor_id": actor_id, "reason": reason}
    for ticket_id in sorted(set(ticket_ids)):
        _audit(Kind.TICKET_CANCELLED, ticket_id=ticket_id, quantity=1, amount=order.unit_price, **common)
    kind = Kind.ORDER_CANCELLED if order.active == 0 else Kind.ORDER_PARTLY_CANCELLED
    _audit(kind, quantity=n, amount=order.unit_price * n, **common)
    if notify:
        _owe_emails([(OutboxEmail.Kind.ORDER_CANCELLED, order.user_id, order.event_id, order.pk)], now=now)
    # Tickets came back: the waiting list may now be served.
    event_id = order.event_id
    transaction.on_commit(lambda: wakeups.request_drain(event_id), robust=True)


def record_refund(*, order: Order, amount: Decimal, reason: str, actor_id: int | None) -> None:
    """Record money given back on an order (locked by the caller); never more than its total."""
    order.refunded += amount
    order.save(update_fields=["refunded"])
    _audit(Kind.REFUNDED, **_order_refs(order), actor_id=actor_id, amount=amount, reason=reason)


# Ticket types and events


def capacity_changed(*, ticket_type: TicketType, old: int, actor_id: int | None) -> None:
    """Record a saved change of a type's capacity; a raise may serve the waiting list."""
    _audit(
        Kind.CAPACITY_CHANGED,
        event_id=ticket_type.event_id,
        ticket_type_id=ticket_type.pk,
        actor_id=actor_id,
        quantity=ticket_type.capacity,
        reason=f"from {old} to {ticket_type.capacity}",
    )
    if ticket_type.capacity > old:
        event_id = ticket_type.event_id
        transaction.on_commit(lambda: wakeups.request_drain(event_id), robust=True)


def mark_event_cancelled(
    *, event: Event, now, reason: str, actor_id: int | None, buyer_ids: list[int]
) -> None:
    """Mark the event (locked by the caller) cancelled and owe each buyer an email."""
    event.cancelled_at = now
    event.save(update_fields=["cancelled_at"])
    _audit(Kind.EVENT_CANCELLED, event_id=event.pk, actor_id=actor_id, reason=reason)
    _owe_emails(
        [(OutboxEmail.Kind.EVENT_CANCELLED, user_id, event.pk, None) for user_id in sorted(buyer_ids)],
        now=now,
    )


def _order_refs(order: Order) -> dict:
    """What an audit entry about an order names."""
    return {
        "event_id": order.event_id,
        "ticket_type_id": order.ticket_type_id,
        "request_id": order.request_id,
        "order_id": order.pk,
        "user_id": order.user_id,
    }


def _audit(kind: str, **fields) -> None:
    fastpath.insert_instance(AuditEntry(kind=kind, **fields))


def _owe_emails(emails: list[tuple], *, now) -> None:
    """Put emails (kind, user_id, event_id, order_id) in the outbox, and wake the sender after commit."""
    if not emails:
        return
    created = OutboxEmail._meta.get_field("created_at").get_db_prep_save(now, connection)
    fastpath.insert_rows(
        OutboxEmail,
        ["kind", "user_id", "event_id", "order_id", "claim", "attempts", "created_at"],
        [(*e, "", 0, created) for e in emails],
    )
    transaction.on_commit(wakeups.request_emails, robust=True)


# The door's moves (entries, exits, undoing an entry, offline duplicates, re-issues, key
# rotations) are in door.py.
from ticketing.services.ledger.door import (  # noqa: E402, F401
    admit,
    key_rotated,
    let_out,
    record_duplicate,
    reissue_ticket,
    undo_entry,
)
