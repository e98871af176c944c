"""Serving an event's queue: allocating tickets in batches that never oversell."""

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django_q.tasks import async_task

from events.models import Event, SaleState, TicketType
from ticketing.models import AuditEntry, Order, Ticket, TicketRequest, new_qr_token
from ticketing.services import bulk, places

Status = TicketRequest.Status
Reason = TicketRequest.Reason


class Queued(NamedTuple):
    """What the drain needs of a queued request: read as plain tuples, not model instances."""

    pk: int
    event_id: int
    user_id: int
    ticket_type_id: int
    priority: int
    quantity: int


class AllocationConflict(Exception):
    """A counter did not move as the locked snapshot promised; the batch is rolled back."""


@dataclass
class DrainResult:
    fulfilled: int = 0
    rejected: int = 0
    tickets: int = 0
    batches: int = 0
    more: bool = False


def drain_event_queue(
    *, event_id: int, batch_size: int | None = None, time_budget: float | None = None
) -> DrainResult:
    """Serve the event's queue in order until it is empty, the sale is not open, or time is up."""
    batch_size = batch_size or settings.EVENTTIX_DRAIN_BATCH_SIZE
    budget = settings.EVENTTIX_DRAIN_TIME_BUDGET_S if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    result = DrainResult()
    while True:
        served = serve_batch(event_id=event_id, batch_size=batch_size, result=result)
        if served < batch_size:
            return result
        if time.monotonic() >= deadline:
            result.more = True
            return result


def drain_due_queues(*, time_budget: float | None = None) -> dict[int, DrainResult]:
    """Drain every event that has queued requests; what the minute sweep runs.

    time_budget=0 serves a single batch per event (the CLI's "process next tick once").
    """
    event_ids = (
        TicketRequest.objects.filter(status=Status.QUEUED)
        .order_by()
        .values_list("event_id", flat=True)
        .distinct()
    )
    return {
        event_id: drain_event_queue(event_id=event_id, time_budget=time_budget)
        for event_id in list(event_ids)
    }


@transaction.atomic
def serve_batch(*, event_id: int, batch_size: int, result: DrainResult) -> int:
    """Serve up to batch_size queued requests in one transaction; return how many were served."""
    # The event row is the per-event lock: drains of one event run one batch at a time, in order,
    # while drains of other events go on in parallel. Locks are always taken event first.
    # NO KEY UPDATE still excludes other drains but, unlike FOR UPDATE, lets requests that
    # reference the event (a foreign key takes KEY SHARE) be inserted while a batch runs.
    event = Event.objects.select_for_update(no_key=True).filter(pk=event_id).first()
    if event is None:
        return 0
    now = timezone.now()
    state = event.sale_state(now)
    if state.before_opening:
        return 0
    places.place_waiting_room(event_id=event_id)
    batch = [
        Queued(*row)
        for row in TicketRequest.objects.select_for_update(no_key=True)
        .filter(event_id=event_id, status=Status.QUEUED)
        .order_by("-priority", "seq")
        .values_list("pk", "event_id", "user_id", "ticket_type_id", "priority", "quantity")[:batch_size]
    ]
    if not batch:
        return 0
    if state == SaleState.CLOSED:
        decisions = {r.pk: Reason.SALE_CLOSED for r in batch}
        types = {}
    else:
        types = {t.pk: t for t in TicketType.objects.filter(event_id=event_id).order_by("pk")}
        decisions = _decide(event=event, batch=batch, types=types)
    _apply(event=event, batch=batch, types=types, decisions=decisions, now=now, result=result)
    result.batches += 1
    return len(batch)


def _decide(*, event: Event, batch: list[Queued], types: dict) -> dict[int, str | None]:
    """In queue order, fulfil (None) or reject (a reason) each request, all or nothing."""
    held = dict(
        Order.objects.filter(event_id=event.pk, user_id__in={r.user_id for r in batch})
        .values("user_id")
        .annotate(n=Sum("quantity"))
        .values_list("user_id", "n")
    )
    remaining = {pk: t.capacity - t.sold for pk, t in types.items()}
    decisions = {}
    for r in batch:
        if held.get(r.user_id, 0) + r.quantity > event.max_tickets_per_user:
            decisions[r.pk] = Reason.LIMIT_EXCEEDED
        elif remaining.get(r.ticket_type_id, 0) < r.quantity:
            decisions[r.pk] = Reason.SOLD_OUT
        else:
            decisions[r.pk] = None
            remaining[r.ticket_type_id] -= r.quantity
            held[r.user_id] = held.get(r.user_id, 0) + r.quantity
    return decisions


def _apply(*, event, batch, types, decisions, now, result: DrainResult) -> None:
    fulfilled = [r for r in batch if decisions[r.pk] is None]
    sold = Counter()
    for r in fulfilled:
        sold[r.ticket_type_id] += r.quantity
    for type_id, n in sorted(sold.items()):
        moved = TicketType.objects.filter(pk=type_id, sold__lte=F("capacity") - n).update(sold=F("sold") + n)
        if moved != 1:
            raise AllocationConflict(f"ticket type {type_id} could not take {n} more")

    by_outcome = defaultdict(list)
    for r in batch:
        by_outcome[decisions[r.pk]].append(r.pk)
    for reason, ids in by_outcome.items():
        status = Status.FULFILLED if reason is None else Status.REJECTED
        TicketRequest.objects.filter(pk__in=ids).update(status=status, reason=reason or "", processed_at=now)

    orders = _insert_orders(fulfilled=fulfilled, types=types, now=now) if fulfilled else []
    _insert_tickets(orders=orders, fulfilled=fulfilled)
    _insert_transactions(request_ids=[r.pk for r in batch], now=now)
    # Last: the counter row is shared with arrivals, which wait while it is locked.
    places.count_left(event_id=event.pk, by_priority=Counter(r.priority for r in batch), how="decided")

    result.fulfilled += len(fulfilled)
    result.rejected += len(batch) - len(fulfilled)
    result.tickets += sum(sold.values())
    if orders:
        transaction.on_commit(lambda: _notify(orders))


def _insert_orders(*, fulfilled: list[Queued], types: dict, now) -> list[int]:
    """One order per fulfilled request, created in queue order; their ids in that order."""
    fields = {f.name: f for f in Order._meta.concrete_fields}
    created = fields["created_at"].get_db_prep_save(now, connection)
    amounts = {}
    rows = []
    for r in fulfilled:
        key = (r.ticket_type_id, r.quantity)
        if key not in amounts:
            price = types[r.ticket_type_id].price
            amounts[key] = (
                fields["unit_price"].get_db_prep_save(price, connection),
                fields["total"].get_db_prep_save(price * r.quantity, connection),
            )
        rows.append((r.pk, r.user_id, r.event_id, r.ticket_type_id, r.quantity, *amounts[key], created))
    columns = [
        "request_id",
        "user_id",
        "event_id",
        "ticket_type_id",
        "quantity",
        "unit_price",
        "total",
        "created_at",
    ]
    by_request = dict(bulk.insert_rows(Order, columns, rows, returning="request_id, id"))
    return [by_request[r.pk] for r in fulfilled]


def _insert_tickets(*, orders: list[int], fulfilled: list[Queued]) -> None:
    """One ticket per admission, each with a fresh QR token."""
    rows = [
        (order_id, r.ticket_type_id, new_qr_token())
        for order_id, r in zip(orders, fulfilled, strict=True)
        for _ in range(r.quantity)
    ]
    bulk.insert_rows(Ticket, ["order_id", "ticket_type_id", "qr_token"], rows)


def _insert_transactions(*, request_ids: list[int], now) -> None:
    """The audit entry of each decided request, in queue order, from the rows just updated."""
    # A request's new status names its transaction kind: the two choice sets share these values.
    created = AuditEntry._meta.get_field("created_at").get_db_prep_save(now, connection)
    membership, params = bulk.id_list_sql(request_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditEntry._meta.db_table} (created_at, kind, event_id, ticket_type_id,"
            " request_id, order_id, user_id, quantity, reason, ticket_id, csv_logged)"
            " SELECT %s, r.status, r.event_id, r.ticket_type_id, r.id, o.id, r.user_id, r.quantity, r.reason,"
            f" NULL, %s FROM {TicketRequest._meta.db_table} r"
            f" LEFT JOIN {Order._meta.db_table} o ON o.request_id = r.id"
            f" WHERE r.id {membership} ORDER BY r.priority DESC, r.seq",
            [created, False, *params],
        )


def _notify(order_ids: list[int]) -> None:
    async_task("ticketing.tasks.send_order_confirmations", order_ids, group="email")
