"""Serving an event's queue and its waiting lists: allocating tickets in batches that never oversell."""

import time
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events.models import Event, SaleState, TicketType
from ticketing.models import Order, TicketRequest, TicketTypeCounter
from ticketing.services import ledger, limits, places
from ticketing.services.ledger import Move, Pending

Status = TicketRequest.Status
Reason = TicketRequest.Reason


@dataclass
class DrainResult:
    fulfilled: int = 0
    rejected: int = 0
    waiting: int = 0
    cancelled: int = 0
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
        if not serve_batch(event_id=event_id, batch_size=batch_size, result=result):
            return result
        if time.monotonic() >= deadline:
            result.more = True
            return result


def events_with_work():
    """Ids of events with requests queued or waiting, from the counters."""
    return (
        TicketTypeCounter.objects.filter(Q(queued__gt=0) | Q(waiting__gt=0))
        .order_by("event_id")
        .values_list("event_id", flat=True)
        .distinct()
    )


def drain_due_queues(*, time_budget: float | None = None) -> dict[int, DrainResult]:
    """Drain every event that has queued or waiting requests; what the minute sweep runs.

    time_budget=0 serves a single batch per event (the CLI's "process next tick once").
    """
    return {
        event_id: drain_event_queue(event_id=event_id, time_budget=time_budget)
        for event_id in list(events_with_work())
    }


def serve_batch(*, event_id: int, batch_size: int, result: DrainResult) -> bool:
    """Serve up to batch_size requests of the waiting lists and of the queue in one transaction.

    Returns True when there may be more to serve at once.
    """
    with transaction.atomic(durable=True):
        # The event row is the per-event lock: drains of one event run one batch at a time, in
        # order, while drains of other events go on in parallel. Locks are always taken event
        # first. NO KEY UPDATE still excludes other drains but, unlike FOR UPDATE, lets requests
        # that reference the event (a foreign key takes KEY SHARE) be inserted while a batch runs.
        event = Event.objects.select_for_update(no_key=True).filter(pk=event_id).first()
        if event is None:
            return False
        now = timezone.now()
        state = event.sale_state(now)
        if state.before_opening:
            return False
        places.place_waiting_room(event_id=event_id)
        types = {t.pk: t for t in TicketType.objects.filter(event_id=event_id).order_by("pk")}
        waiting = _waiting_candidates(event_id=event_id, state=state, types=types, limit=batch_size)
        queued = []
        # The waiting list first: the queue only once every waiting request that fits is in a batch.
        if len(waiting) < batch_size:
            queued = ledger.lock_pending(
                TicketRequest.objects.filter(event_id=event_id, status=Status.QUEUED).order_by(
                    "-priority", "seq"
                ),
                limit=batch_size,
            )
        if not waiting and not queued:
            return False
        moves = _decide(event=event, state=state, waiting=waiting, queued=queued, types=types)
        if not moves:
            # Only waiting requests that do not fit yet: nothing to do until more tickets come back.
            return False
        result.tickets += ledger.move_requests(moves=moves, now=now, in_turn=True)
        for m in moves:
            if m.to == Status.FULFILLED:
                result.fulfilled += 1
            elif m.to == Status.WAITING:
                result.waiting += 1
            elif m.to == Status.CANCELLED:
                result.cancelled += 1
            else:
                result.rejected += 1
        result.batches += 1
    # More at once if either list filled its batch (every waiting candidate fits, so it moved).
    return len(queued) == batch_size or len(waiting) == batch_size


def _waiting_candidates(*, event_id, state, types, limit) -> list[Pending]:
    """The waiting requests this batch may serve, in queue order: those that fit what came back.

    A request that does not fit at the start of a batch cannot fit later in it, so leaving it out
    changes no outcome, and a long list of requests too big for what came back never hides one
    that fits. When the sale has ended every waiting request is a candidate, to be rejected.
    """
    waiting = TicketRequest.objects.filter(event_id=event_id, status=Status.WAITING)
    if state == SaleState.OPEN:
        fits = Q()
        for pk, t in types.items():
            if t.remaining > 0:
                fits |= Q(ticket_type_id=pk, quantity__lte=t.remaining)
        if not fits:
            return []
        waiting = waiting.filter(fits)
    return ledger.lock_pending(waiting.order_by("-priority", "seq"), limit=limit)


def _decide(*, event, state, waiting: list[Pending], queued: list[Pending], types: dict) -> list[Move]:
    """Each request's outcome, waiting lists first, then the queue, each in order, all or nothing.

    A waiting request that does not fit yet stays waiting (no move); one that would fit is never
    passed over for a later request of its type, which this order guarantees.
    """
    if state != SaleState.OPEN:
        reason = Reason.EVENT_CANCELLED if state == SaleState.CANCELLED else Reason.SALE_CLOSED
        to = Status.CANCELLED if state == SaleState.CANCELLED else Status.REJECTED
        return [Move(r, to, reason) for r in [*waiting, *queued]]
    everyone = [*waiting, *queued]
    users = {r.user_id for r in everyone}
    inactive = set(
        get_user_model().objects.filter(pk__in=users, is_active=False).values_list("pk", flat=True)
    )
    held = _bought(event_id=event.pk, user_ids=users)
    remaining = {pk: t.remaining for pk, t in types.items()}
    moves = []
    for r in everyone:
        if r.user_id in inactive:
            moves.append(Move(r, Status.CANCELLED, Reason.ACCOUNT_DEACTIVATED))
        elif not limits.within_ticket_limit(event=event, held=held[r.user_id], quantity=r.quantity):
            moves.append(Move(r, Status.REJECTED, Reason.LIMIT_EXCEEDED))
        elif remaining.get(r.ticket_type_id, 0) >= r.quantity:
            moves.append(Move(r, Status.FULFILLED))
            remaining[r.ticket_type_id] -= r.quantity
            held[r.user_id] += r.quantity
        elif r.status == Status.QUEUED:
            moves.append(
                Move(r, Status.WAITING) if r.wait_if_sold_out else Move(r, Status.REJECTED, Reason.SOLD_OUT)
            )
    return moves


def _bought(*, event_id: int, user_ids) -> defaultdict:
    """Tickets each buyer already holds from orders for the event."""
    held = defaultdict(int)
    rows = Order.objects.filter(event_id=event_id, user_id__in=user_ids).values_list("user_id", "active")
    for user_id, active in rows:
        held[user_id] += active
    return held
