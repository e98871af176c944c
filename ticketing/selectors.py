"""Reads: availability, queue positions, a buyer's requests, orders and tickets, the door's counts."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Sum
from django.db.models.functions import Coalesce, TruncMinute
from django.utils import timezone

from events.models import Event, TicketType
from ticketing import errors
from ticketing.models import AuditEntry, CheckIn, CheckInList, Order, Ticket, TicketRequest
from ticketing.services import fastqueue, places, signing

QUEUED = TicketRequest.Status.QUEUED
WAITING = TicketRequest.Status.WAITING
# The drain rate is measured over this window, and shared for a few seconds.
RATE_WINDOW = timedelta(seconds=60)
RATE_CACHE_SECONDS = 2


def events_listed(*, now=None):
    """Events on sale or coming, soonest first, with their ticket types."""
    now = now or timezone.now()
    return (
        Event.objects.filter(Q(sale_closes_at__isnull=True) | Q(sale_closes_at__gt=now))
        .filter(starts_at__gt=now - timedelta(hours=12))
        .prefetch_related(Prefetch("ticket_types", queryset=types_with_counters()))
        .order_by("starts_at", "id")
    )


def types_with_counters():
    """Ticket types with their counters: `queued` and `waiting` requests, tickets `checked_in` and
    `cancelled`. Read from the ledger's counters, so as cheap with a million requests queued as
    with none."""
    return TicketType.objects.annotate(
        **{
            name: Coalesce(F(f"counter__{name}"), 0)
            for name in ("queued", "waiting", "checked_in", "cancelled")
        }
    ).order_by("-priority", "id")


def ticket_types_with_queue(*, event_id: int):
    """One event's ticket types with their counters (types_with_counters)."""
    return types_with_counters().filter(event_id=event_id)


@dataclass
class QueuePosition:
    request_id: int
    status: str
    position: int | None
    ahead: int | None
    eta_seconds: float | None
    waiting_room: bool
    order_id: int | None
    # True when the place is on the ticket type's waiting list rather than in the queue.
    waiting_list: bool = False
    # Seconds until the client should ask again (services.polling); None once decided.
    poll_after_seconds: float | None = None
    # Before the opening, about how many the draw will put ahead of this waiting-room request
    # (drawn_ahead_estimate): the waiting room is asked back in about that order.
    drawn_ahead: int | None = None


def requests_ahead(*, ticket_request: TicketRequest) -> int:
    """Queued requests of the same event that will be served before this (placed) one.

    From the counters, without counting the queue (see services.places): of the places before
    this one in its priority, the drain has decided the first `decided`, and the skipped ones
    are few; every request still waiting in a higher priority is ahead too.
    """
    r = ticket_request
    # One statement (services/fastpath.py; test_fastpath holds it to the ORM's answer), so the
    # counters come from one snapshot.
    counters = fastqueue.queue_counters_ahead(event_id=r.event_id, priority=r.priority, seq=r.seq)
    ahead = r.seq - 1
    for priority, arrived, decided, skipped, skipped_before in counters:
        if priority == r.priority:
            ahead -= decided + skipped_before
        else:
            ahead += arrived - decided - skipped
    # The request itself may have been served since it was read.
    return max(ahead, 0)


def drawn_ahead_estimate(*, ticket_request: TicketRequest) -> int:
    """About how many the opening's draw will put ahead of a waiting-room request, were it now.

    Everyone waiting in a higher priority, and the share of its own priority's waiting room that
    its draw beats (the draws are uniform: services.places). Not a promise: the room may still
    grow, and the place is given only at the opening. One statement, from the counters.
    """
    r = ticket_request
    ahead = 0.0
    for priority, arrived, decided, skipped, _ in fastqueue.queue_counters_ahead(
        event_id=r.event_id, priority=r.priority, seq=r.seq
    ):
        queued = arrived - decided - skipped
        if priority == r.priority:
            ahead += max(queued - 1, 0) * r.draw / places.DRAW_SPAN
        else:
            ahead += queued
    return int(ahead)


def drain_rate(*, event_id: int, now=None) -> float:
    """Requests served per second for the event over the last minute."""
    now = now or timezone.now()
    served = TicketRequest.objects.filter(event_id=event_id, processed_at__gte=now - RATE_WINDOW).count()
    return served / RATE_WINDOW.total_seconds()


def recent_drain_rate(*, event_id: int, now=None) -> float:
    """drain_rate, shared by every position read for RATE_CACHE_SECONDS.

    At thousands of requests served per second the count behind it covers hundreds of
    thousands of rows; every waiting buyer polls their position, and none needs it fresher.
    """
    return cache.get_or_set(
        f"drain-rate:{event_id}", lambda: drain_rate(event_id=event_id, now=now), RATE_CACHE_SECONDS
    )


def waiting_ahead(*, ticket_request: TicketRequest) -> int:
    """Requests ahead of a waiting one on its ticket type's waiting list.

    The one count of rows on a request path: an index-only range of the waiting list's own
    partial index, which holds only the requests still waiting (BENCHMARKS.md measures it).
    """
    r = ticket_request
    return TicketRequest.objects.filter(
        ticket_type_id=r.ticket_type_id, status=WAITING, seq__lt=r.seq
    ).count()


def queue_position(*, ticket_request: TicketRequest, now=None) -> QueuePosition:
    """Where a request stands: its 1-based place, the number ahead, and an ETA."""
    r = ticket_request
    if r.status == WAITING:
        ahead = waiting_ahead(ticket_request=r)
        return QueuePosition(r.pk, r.status, ahead + 1, ahead, None, False, None, waiting_list=True)
    if r.status != QUEUED:
        order_id = Order.objects.filter(request_id=r.pk).values_list("pk", flat=True).first()
        return QueuePosition(r.pk, r.status, None, 0, 0.0, False, order_id)
    now = now or timezone.now()
    if r.draw is not None:
        # The waiting room's order is drawn when the sale opens; until then no place is promised.
        drawn = drawn_ahead_estimate(ticket_request=r) if now < r.event.sale_opens_at else None
        return QueuePosition(r.pk, r.status, None, None, None, True, None, drawn_ahead=drawn)
    ahead = requests_ahead(ticket_request=r)
    rate = recent_drain_rate(event_id=r.event_id, now=now)
    eta = round((ahead + 1) / rate, 1) if rate > 0 else None
    return QueuePosition(r.pk, r.status, ahead + 1, ahead, eta, False, None)


def arrival_position(*, ticket_request: TicketRequest) -> QueuePosition:
    """The place of a request enqueue_request has just returned, from what it read on arrival.

    The answer to joining the queue reads nothing more: no count, and no ETA (the first poll of
    queue_position brings that). A request returned again for a repeated idempotency key was
    not just queued, and is looked up as usual.
    """
    r = ticket_request
    # A waiting-room arrival has no place yet; queue_position says so, with the estimate of how
    # many the draw will put ahead of it (one read of the counters, before the opening).
    if r.ahead_on_arrival is None or r.draw is not None:
        return queue_position(ticket_request=r)
    ahead = r.ahead_on_arrival
    return QueuePosition(
        r.pk, r.status, ahead + 1, ahead, None, False, None, waiting_list=r.status == WAITING
    )


def user_requests(*, user):
    return TicketRequest.objects.filter(user_id=user.pk).select_related("event", "ticket_type")


def polled_request(*, user_id: int, request_id: int) -> tuple[bool, TicketRequest | None]:
    """(account active, the buyer's own request with its event or None): what a poll of the
    place reads, in one statement (services/fastpath.py)."""
    return fastqueue.read_own_request(user_id=user_id, request_id=request_id)


def user_request(*, user, request_id: int) -> TicketRequest | None:
    """The user's own request, or None (someone else's is as good as missing)."""
    return user_requests(user=user).filter(pk=request_id).first()


def _orders_with_tickets():
    return Order.objects.select_related("event", "ticket_type", "user").prefetch_related(
        Prefetch("tickets", queryset=Ticket.objects.order_by("id"))
    )


def user_orders(*, user):
    return _orders_with_tickets().filter(user_id=user.pk)


def order_for(*, user, order_id: int) -> Order | None:
    """The user's own order with its tickets; staff who may view orders see any."""
    from ticketing.services.orders import can_view_orders

    orders = _orders_with_tickets() if can_view_orders(user) else user_orders(user=user)
    return orders.filter(pk=order_id).first()


def ticket_by_token(*, qr_token: str) -> Ticket | None:
    """The ticket a QR code (signed or random) names; None for an unknown, forged or out-of-date code."""
    try:
        found = signing.locator_for(qr_token)
    except errors.BadSignature:
        return None
    ticket = (
        Ticket.objects.select_related("ticket_type__event", "order__user", "checked_in_by")
        .filter(found.where)
        .first()
    )
    return ticket if ticket is not None and found.current(ticket) else None


def recent_transactions(*, limit: int = 10):
    """The newest audit entries, newest first."""
    return AuditEntry.objects.select_related("event", "ticket_type", "user").order_by("-id")[:limit]


def sales_over_time(*, event_id: int) -> list[tuple]:
    """Tickets sold per minute for the event, as (minute, tickets), oldest first."""
    return list(
        Order.objects.filter(event_id=event_id)
        .annotate(minute=TruncMinute("created_at"))
        .values("minute")
        .annotate(n=Sum("quantity"))
        .order_by("minute")
        .values_list("minute", "n")
    )


def sales_opening(*, after, until) -> list[tuple[int, datetime]]:
    """(event id, opening) of the sales that open in (after, until] with arrivals in their waiting
    room, soonest first: the drain must draw those rooms at the opening."""
    return list(
        Event.objects.filter(
            cancelled_at__isnull=True,
            sale_opens_at__gt=after,
            sale_opens_at__lte=until,
            ticket_types__counter__queued__gt=0,
        )
        .order_by("sale_opens_at", "pk")
        .values_list("pk", "sale_opens_at")
        .distinct()
    )


# The door


@dataclass
class DoorCount:
    ticket_type: str
    inside: int
    valid: int


def door_events(*, user, now=None) -> list[tuple]:
    """(event, [its check-in lists this member of door staff may use]) for events not cancelled
    from a day ago on: today's events first, then the coming ones, each soonest first."""
    now = now or timezone.now()
    lists = (
        CheckInList.objects.filter(
            event__cancelled_at__isnull=True, event__starts_at__gte=now - timedelta(days=1)
        )
        .filter(Q(staff__isnull=True) | Q(staff=user))
        .select_related("event")
        .distinct()
    )
    by_event = {}
    for check_in_list in lists:
        by_event.setdefault(check_in_list.event, []).append(check_in_list)
    today = timezone.localdate(now)

    def order(event):
        return (timezone.localdate(event.starts_at) != today, event.starts_at, event.pk)

    return [
        (event, sorted(found, key=lambda c: (not c.is_default, c.name)))
        for event, found in sorted(by_event.items(), key=lambda item: order(item[0]))
    ]


def admitted_types(*, check_in_list):
    """The ticket types a list admits: those it names, or (naming none) all of its event's."""
    named = TicketType.objects.filter(pk__in=check_in_list.ticket_types.values("pk"))
    return named if named.exists() else TicketType.objects.filter(event_id=check_in_list.event_id)


def door_counts(*, check_in_list) -> list[DoorCount]:
    """Per ticket type the list admits: tickets inside (an active entry on the list) of those valid."""
    types = list(admitted_types(check_in_list=check_in_list).order_by("-priority", "name"))
    held = dict(
        Ticket.objects.filter(ticket_type__in=types, status__in=Ticket.HELD)
        .values_list("ticket_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    inside = dict(
        CheckIn.objects.filter(check_in_list=check_in_list, active=True)
        .values_list("ticket__ticket_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [DoorCount(t.name, inside.get(t.pk, 0), held.get(t.pk, 0)) for t in types]


def door_search(*, check_in_list, query: str, limit: int = 20) -> list[Ticket]:
    """Tickets of the list's event whose holder's name or email contains the query; each with
    `inside` (an active entry on this list)."""
    query = query.strip()
    if len(query) < 2:
        return []
    tickets = (
        Ticket.objects.filter(ticket_type__event_id=check_in_list.event_id)
        .filter(Q(order__user__name__icontains=query) | Q(order__user__email__icontains=query))
        .select_related("order__user", "ticket_type")
        .annotate(
            inside=Exists(
                CheckIn.objects.filter(check_in_list=check_in_list, ticket=OuterRef("pk"), active=True)
            )
        )
        .order_by("order__user__name", "pk")[:limit]
    )
    return list(tickets)


# Tickets a door phone may hold to check in without a network; README states the limit.
OFFLINE_LIST_LIMIT = 25_000


def code_hash(code: str) -> str:
    """What a door phone holds of a ticket's random code: enough to recognise it, useless to
    forge one (the first 16 bytes of its SHA-256, hex)."""
    return hashlib.sha256(code.encode()).hexdigest()[:32]


def door_offline_data(*, check_in_list, public_key: bytes, now=None) -> dict:
    """Everything a door phone needs to check tickets in on this list without a network: the
    list, the event's public key (signed codes verify with it), and (up to OFFLINE_LIST_LIMIT)
    every ticket of the types it admits, valid or not, with its version, its holder, whether it is
    inside on this list, and its random code's hash."""
    now = now or timezone.now()
    types = list(admitted_types(check_in_list=check_in_list).order_by("pk").values("id", "name"))
    tickets = Ticket.objects.filter(ticket_type_id__in=[t["id"] for t in types])
    total = tickets.count()
    rows = []
    if total <= OFFLINE_LIST_LIMIT:
        inside = set(
            CheckIn.objects.filter(check_in_list=check_in_list, active=True).values_list(
                "ticket_id", flat=True
            )
        )
        for pk, type_id, token, version, status, holder in tickets.order_by("pk").values_list(
            "pk", "ticket_type_id", "qr_token", "version", "status", "order__user__name"
        ):
            rows.append(
                {
                    "id": pk,
                    "ticket_type_id": type_id,
                    "version": version,
                    "code_hash": code_hash(token),
                    "status": status,
                    "holder_name": holder,
                    "inside": pk in inside,
                }
            )
    return {
        "check_in_list": check_in_list,
        "public_key": public_key,
        "generated_at": now,
        "ticket_types": types,
        "complete": total <= OFFLINE_LIST_LIMIT,
        "ticket_count": total,
        "tickets": rows,
    }
