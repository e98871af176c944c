"""Cancellations racing the drain and the door, in real processes on PostgreSQL.

Whatever the interleaving, every request, ticket and order ends in exactly one state, with exactly
the audit entries that state implies; the counters equal the rows they count; nothing is oversold;
a waiting list is served in its order; and the side that loses a race is told so by a domain error,
never by a crash.
"""

import multiprocessing
import random
import time
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils import timezone

from conftest import requires_postgres
from events.models import TicketType
from ticketing import errors, services
from ticketing.models import (
    AuditEntry,
    Order,
    OutboxEmail,
    QueueCounter,
    Ticket,
    TicketRequest,
    TicketTypeCounter,
)
from ticketing.tests.processes import run_in_processes

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]

CTX = multiprocessing.get_context("fork")  # what run_in_processes forks with
# Outcome codes written by the children into shared memory, one slot per ticket or request.
OK, TICKET_CANCELLED, NOT_CANCELLABLE, BUSY, ALREADY_CHECKED_IN = 1, 2, 3, 4, 5
CODE = {
    errors.TicketCancelled: TICKET_CANCELLED,
    errors.NotCancellable: NOT_CANCELLABLE,
    errors.Busy: BUSY,
    errors.AlreadyCheckedIn: ALREADY_CHECKED_IN,
}
DOMAIN_ERRORS = tuple(CODE)


def cancellable_event(make_event, *, capacity, **extra):
    return make_event(
        vip=None,
        regular=capacity,
        cancellation_deadline=timezone.now() + timedelta(days=5),
        max_tickets_per_user=10,
        **extra,
    )


REQUEST_KINDS = ("queued", "waiting", "fulfilled", "rejected", "cancelled")


def entries_by_request():
    """The moves each request made, by kind (its order's and tickets' entries name it too)."""
    per_request = defaultdict(Counter)
    for request_id, kind in AuditEntry.objects.filter(kind__in=REQUEST_KINDS).values_list(
        "request_id", "kind"
    ):
        per_request[request_id][kind] += 1
    return per_request


def assert_counters_balance(event):
    """TicketType.sold and every counter equal the rows they stand for."""
    for t in TicketType.objects.filter(event=event):
        tickets = Counter(Ticket.objects.filter(ticket_type=t).values_list("status", flat=True))
        requests = Counter(TicketRequest.objects.filter(ticket_type=t).values_list("status", flat=True))
        assert t.sold == tickets["valid"] + tickets["checked_in"] <= t.capacity
        counter = TicketTypeCounter.objects.get(ticket_type=t)
        counted = (counter.queued, counter.waiting, counter.checked_in, counter.cancelled)
        rows = (requests["queued"], requests["waiting"], tickets["checked_in"], tickets["cancelled"])
        assert counted == rows, f"type {t.pk}: counters {counted}, rows {rows}"
    for order in Order.objects.filter(event=event).annotate(
        held=Count("tickets", filter=~Q(tickets__status="cancelled"))
    ):
        assert order.active == order.held
        expected = {order.quantity: "confirmed", 0: "cancelled"}.get(order.active, "partly_cancelled")
        assert order.status == expected, f"order {order.pk}: {order.status}, {order.active} active"


def assert_queue_counters_balance(event):
    """Once the queue is empty every arrival has left it once: in turn (decided) or out of turn."""
    assert not TicketRequest.objects.filter(event=event, status="queued").exists()
    for counter in QueueCounter.objects.filter(event=event):
        requests = TicketRequest.objects.filter(event=event, priority=counter.priority)
        skipped = requests.filter(skipped=True).count()
        assert counter.arrived == requests.count() == counter.decided + counter.skipped
        assert counter.skipped == skipped


def drain_until_done(event_id, barrier, done, cancellers):
    """Drain again and again while the cancellers run, as wake-ups and the sweep would."""
    barrier.wait()
    while done.value < cancellers:
        if not services.drain_event_queue(event_id=event_id, batch_size=3).batches:
            time.sleep(0.002)
    services.drain_event_queue(event_id=event_id, batch_size=3)


def cancel_orders_as_buyers(pairs, barrier, done):
    User = get_user_model()
    try:
        barrier.wait()
        for user_id, order_id in pairs:
            services.cancel_order(user=User.objects.get(pk=user_id), order_id=order_id)
    finally:
        with done.get_lock():
            done.value += 1


def test_buyers_cancelling_while_the_drain_serves_the_waiting_list(make_user, make_event):
    rng = random.Random(11)
    event = cancellable_event(make_event, capacity=40)
    regular = event.ticket_types.get()
    # Sold out in orders of 1 to 3 tickets...
    left = regular.capacity
    while left:
        quantity = min(rng.randint(1, 3), left)
        services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=quantity)
        left -= quantity
    services.drain_event_queue(event_id=event.pk)
    first_orders = set(Order.objects.values_list("pk", flat=True))
    # ...with a waiting list longer than the cancellations can serve, so it never runs dry.
    waiting = [
        services.enqueue_request(
            user=make_user(), ticket_type_id=regular.pk, quantity=rng.randint(1, 3), wait_if_sold_out=True
        )
        for _ in range(80)
    ]
    assert {r.status for r in waiting} == {"waiting"}

    cancelled_orders = set()
    cancellers = 3
    for _ in range(5):
        # Each round cancels orders bought in the sale or served from the waiting list earlier,
        # while two drains serve the tickets those cancellations give back.
        confirmed = list(Order.objects.filter(status="confirmed").values_list("user_id", "pk"))
        chosen = rng.sample(confirmed, 12)
        cancelled_orders.update(pk for _, pk in chosen)
        barrier = CTX.Barrier(cancellers + 2, timeout=30)
        done = CTX.Value("i", 0)
        run_in_processes(
            [(cancel_orders_as_buyers, (chosen[i::cancellers], barrier, done)) for i in range(cancellers)]
            + [(drain_until_done, (event.pk, barrier, done, cancellers)) for _ in range(2)]
        )
    services.drain_event_queue(event_id=event.pk)
    served_from_list = TicketRequest.objects.filter(pk__in=[w.pk for w in waiting], status="fulfilled")
    print(
        f"waiting list: {served_from_list.count()} of {len(waiting)} served,"
        f" {len(cancelled_orders - first_orders)} of those orders cancelled again"
    )

    assert set(Order.objects.filter(status="cancelled").values_list("pk", flat=True)) == cancelled_orders
    assert_counters_balance(event)
    assert_queue_counters_balance(event)
    regular.refresh_from_db()
    # Each waiting request was served once or is still waiting, with the entries that implies.
    per_request = entries_by_request()
    for r in TicketRequest.objects.filter(pk__in=[w.pk for w in waiting]):
        assert r.status in ("waiting", "fulfilled")
        expected = Counter({"waiting": 1, **({"fulfilled": 1} if r.status == "fulfilled" else {})})
        assert per_request[r.pk] == expected, (r.pk, per_request[r.pk])
        assert Order.objects.filter(request=r).count() == (r.status == "fulfilled")
    # Served in queue order among those that fit: when a request was served, every earlier one
    # asking no more tickets fitted too, so it was served no later (orders are numbered in
    # service order); and once the final drain ran, nothing still waiting fits.
    served = dict(Order.objects.values_list("request_id", "pk"))
    rows = list(
        TicketRequest.objects.filter(pk__in=[w.pk for w in waiting])
        .order_by("seq")
        .values_list("pk", "seq", "quantity", "status")
    )
    for pk, seq, quantity, status in rows:
        if status != "fulfilled":
            continue
        for earlier_pk, earlier_seq, earlier_quantity, earlier_status in rows:
            if earlier_seq < seq and earlier_quantity <= quantity:
                assert earlier_status == "fulfilled", f"request {pk} was served before {earlier_pk}"
                assert served[earlier_pk] < served[pk], f"request {pk} was served before {earlier_pk}"
    still_waiting = [quantity for _, _, quantity, status in rows if status == "waiting"]
    assert still_waiting and regular.remaining < min(still_waiting)
    # Every order owes one confirmation (of its kind) and each cancellation one more email.
    emails = Counter(OutboxEmail.objects.values_list("order_id", "kind"))
    for order in Order.objects.all():
        first = "order_confirmed" if order.pk in first_orders else "waiting_list_served"
        cancelled = 1 if order.pk in cancelled_orders else 0
        assert emails[(order.pk, first)] == 1
        assert emails[(order.pk, "order_cancelled")] == cancelled
    assert sum(emails.values()) == Order.objects.count() + len(cancelled_orders)
    for order in Order.objects.filter(pk__in=cancelled_orders):
        kinds = Counter(AuditEntry.objects.filter(order=order).values_list("kind", flat=True))
        assert kinds["order_cancelled"] == 1 and kinds["ticket_cancelled"] == order.quantity


def jitter(rng):
    # Released together, the shorter check-in nearly always wins; a random head start of up to
    # a few milliseconds lets either side win, and varies where the other one is when it does.
    time.sleep(rng.random() * 0.004)


def cancel_tickets_as_staff(staff_id, tickets, barrier, codes):
    staff = get_user_model().objects.get(pk=staff_id)
    rng = random.Random(staff_id * 1000 + tickets[0][0])
    for index, order_id, ticket_id, _ in tickets:
        barrier.wait()  # each ticket is cancelled and scanned at the same moment
        jitter(rng)
        try:
            services.cancel_order(user=staff, order_id=order_id, ticket_ids=[ticket_id])
            codes[index] = OK
        except DOMAIN_ERRORS as exc:
            codes[index] = CODE[type(exc)]


def scan_tickets(staff_id, tickets, barrier, codes):
    staff = get_user_model().objects.get(pk=staff_id)
    rng = random.Random(staff_id * 1000 + tickets[0][0])
    for index, _, _, token in tickets:
        barrier.wait()
        jitter(rng)
        try:
            services.check_in_ticket(qr_token=token, staff_user=staff)
            codes[index] = OK
        except DOMAIN_ERRORS as exc:
            codes[index] = CODE[type(exc)]


def test_staff_cancelling_tickets_while_the_door_scans_them(make_user, make_event, admin_user, door_staff):
    event = cancellable_event(make_event, capacity=60)
    regular = event.ticket_types.get()
    pairs, per_pair = 3, 6
    outcomes = Counter()
    for _ in range(3):
        for _ in range(pairs * per_pair // 3):
            services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=3)
        services.drain_event_queue(event_id=event.pk)
        tickets = [
            (i, order_id, pk, token)
            for i, (pk, order_id, token) in enumerate(
                Ticket.objects.filter(status="valid").order_by("pk").values_list("pk", "order_id", "qr_token")
            )
        ]
        assert len(tickets) == pairs * per_pair
        cancelled_by = CTX.Array("b", len(tickets), lock=False)
        scanned_by = CTX.Array("b", len(tickets), lock=False)
        calls = []
        for p in range(pairs):
            # Each order's tickets are spread over the pairs: a cancel locks the whole order while
            # its other tickets are being scanned and cancelled by the other pairs.
            mine = tickets[p::pairs]
            barrier = CTX.Barrier(2, timeout=30)
            calls += [
                (cancel_tickets_as_staff, (admin_user.pk, mine, barrier, cancelled_by)),
                (scan_tickets, (door_staff.pk, mine, barrier, scanned_by)),
            ]
        run_in_processes(calls)

        for index, _, ticket_id, _ in tickets:
            ticket = Ticket.objects.get(pk=ticket_id)
            seen = (cancelled_by[index], scanned_by[index])
            kinds = Counter(AuditEntry.objects.filter(ticket_id=ticket_id).values_list("kind", flat=True))
            # Exactly one side wins, and the other is told why it lost.
            if ticket.status == "checked_in":
                assert seen in ((NOT_CANCELLABLE, OK), (BUSY, OK)), (ticket_id, seen)
                assert kinds == Counter({"checked_in": 1}), (ticket_id, kinds)
            else:
                assert ticket.status == "cancelled", (ticket_id, ticket.status)
                assert seen == (OK, TICKET_CANCELLED), (ticket_id, seen)
                assert kinds == Counter({"ticket_cancelled": 1}), (ticket_id, kinds)
            outcomes[ticket.status] += 1
        assert_counters_balance(event)
    # One order-level entry per successful cancel call (one ticket each).
    for order in Order.objects.all():
        cancelled = order.tickets.filter(status="cancelled").count()
        kinds = Counter(
            AuditEntry.objects.filter(order=order, ticket__isnull=True).values_list("kind", flat=True)
        )
        assert kinds["order_cancelled"] + kinds["order_partly_cancelled"] == cancelled
        assert kinds["order_cancelled"] == (1 if order.status == "cancelled" else 0)
    print(f"check-in vs cancel: {dict(outcomes)}")


def cancel_requests(pairs, barrier):
    User = get_user_model()
    barrier.wait()
    for index, user_id, request_id, codes in pairs:
        try:
            services.cancel_request(user=User.objects.get(pk=user_id), request_id=request_id)
            codes[index] = OK
        except DOMAIN_ERRORS as exc:
            codes[index] = CODE[type(exc)]


def drain_round(event_id, barrier):
    barrier.wait()
    while TicketRequest.objects.filter(event_id=event_id, status="queued").exists():
        services.drain_event_queue(event_id=event_id, batch_size=2)


def test_a_buyer_cancelling_a_queued_request_while_the_drain_decides_it(make_user, make_event):
    rng = random.Random(5)
    outcomes = Counter()
    for _ in range(5):
        # A fresh event each round, with fewer tickets than asked for: the drain fulfils some,
        # rejects some and puts some on the waiting list, which can still be cancelled there.
        event = cancellable_event(make_event, capacity=8)
        regular = event.ticket_types.get()
        requests = [
            services.enqueue_request(
                user=make_user(),
                ticket_type_id=regular.pk,
                quantity=rng.randint(1, 2),
                wait_if_sold_out=bool(i % 2),
            )
            for i in range(16)
        ]
        codes = CTX.Array("b", len(requests), lock=False)
        jobs = [(i, r.user_id, r.pk, codes) for i, r in enumerate(requests)]
        # Both cancellers and both drains walk the queue from its head at once.
        barrier = CTX.Barrier(4, timeout=30)
        run_in_processes(
            [(cancel_requests, (jobs[i::2], barrier)) for i in range(2)]
            + [(drain_round, (event.pk, barrier)) for _ in range(2)]
        )
        services.drain_event_queue(event_id=event.pk)

        per_request = entries_by_request()
        for i, r in enumerate(requests):
            r.refresh_from_db()
            counts = per_request[r.pk]
            decisions = {k: n for k, n in counts.items() if k in ("fulfilled", "rejected", "waiting")}
            assert counts["queued"] == 1
            if codes[i] == OK:
                # The buyer won: cancelled once, while queued or after the drain put it on the
                # waiting list (then it left the queue in turn, and was counted so).
                assert r.status == "cancelled" and counts["cancelled"] == 1, (r.pk, counts)
                assert decisions in ({}, {"waiting": 1}), (r.pk, counts)
                assert r.skipped == (not decisions)
                outcomes["cancelled while queued" if not decisions else "cancelled while waiting"] += 1
            else:
                # The drain won: one decision, no cancellation, and the buyer was told.
                assert codes[i] == NOT_CANCELLABLE, (r.pk, codes[i])
                assert r.status in ("fulfilled", "rejected"), (r.pk, r.status)
                assert decisions == {r.status: 1} and "cancelled" not in counts, (r.pk, counts)
                assert not r.skipped
                outcomes[r.status] += 1
            assert Order.objects.filter(request=r).count() == (r.status == "fulfilled")
        assert_queue_counters_balance(event)
        assert_counters_balance(event)
    print(f"cancel vs drain: {dict(outcomes)}")
