"""Many processes enqueue and drain at once, on PostgreSQL: nothing is oversold or lost."""

import random
import time
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum

from conftest import requires_postgres
from events.models import TicketType
from ticketing import errors, services
from ticketing.models import AuditEntry, Order, QueueCounter, Ticket, TicketRequest
from ticketing.tests.processes import run_in_processes

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]


def enqueue_many(user_ids, type_ids, seed):
    rng = random.Random(seed)
    User = get_user_model()
    for user_id in user_ids:
        user = User.objects.get(pk=user_id)
        try:
            services.enqueue_request(
                user=user, ticket_type_id=rng.choice(type_ids), quantity=rng.randint(1, 4)
            )
        except errors.TicketingError:
            pass  # sold out or over the limit: refused at the door, as designed


def drain_until(event_id, deadline, batch_size):
    while time.monotonic() < deadline:
        services.drain_event_queue(event_id=event_id, batch_size=batch_size)
        if not TicketRequest.objects.filter(event_id=event_id, status="queued").exists():
            time.sleep(0.01)


def test_parallel_enqueues_and_drains_never_oversell_and_end_every_request_once(make_user, make_event):
    event = make_event(vip=30, regular=100, max_tickets_per_user=8)
    type_ids = list(event.ticket_types.values_list("pk", flat=True))
    users = [make_user().pk for _ in range(240)]
    shared = make_user(email="shared@example.test").pk  # one account in every enqueuing process
    chunks = [users[i::4] + [shared] * 3 for i in range(4)]
    deadline = time.monotonic() + 6
    run_in_processes(
        [(enqueue_many, (chunk, type_ids, seed)) for seed, chunk in enumerate(chunks)]
        + [(drain_until, (event.pk, deadline, 5)) for _ in range(3)]
    )
    services.drain_event_queue(event_id=event.pk)

    for t in TicketType.objects.filter(event=event):
        fulfilled = TicketRequest.objects.filter(ticket_type=t, status="fulfilled").aggregate(
            n=Sum("quantity")
        )
        assert t.sold <= t.capacity
        assert t.sold == (fulfilled["n"] or 0) == Ticket.objects.filter(ticket_type=t).count()
    assert not TicketRequest.objects.filter(status="queued").exists()
    assert Order.objects.count() == TicketRequest.objects.filter(status="fulfilled").count()
    # Every request ended exactly once: one queued entry and one outcome entry each.
    per_request = defaultdict(Counter)
    for request_id, kind in AuditEntry.objects.values_list("request_id", "kind"):
        per_request[request_id][kind] += 1
    assert set(per_request) == set(TicketRequest.objects.values_list("pk", flat=True))
    for counts in per_request.values():
        assert counts["queued"] == 1 and counts["fulfilled"] + counts["rejected"] == 1
    shared_tickets = Order.objects.filter(user_id=shared).aggregate(n=Sum("quantity"))["n"] or 0
    assert shared_tickets <= 8
    # FIFO within a ticket type: each process enqueued in sequence, so its requests of one
    # type must be served in the order it made them.
    served = dict(Order.objects.values_list("request_id", "pk"))
    for chunk in chunks:
        for type_id in type_ids:
            mine = TicketRequest.objects.filter(
                user_id__in=chunk[:-3], ticket_type_id=type_id, status="fulfilled"
            ).order_by("seq")
            order_ids = [served[r.pk] for r in mine]
            assert order_ids == sorted(order_ids)
    # Places: each priority's requests hold 1..N with no gap or repeat, though four processes
    # took them at once and some arrivals were refused, and the counters agree with the rows.
    counters = QueueCounter.objects.filter(event=event)
    assert counters.count() == 2
    for counter in counters:
        requests = TicketRequest.objects.filter(event=event, priority=counter.priority)
        assert sorted(requests.values_list("seq", flat=True)) == list(range(1, counter.arrived + 1))
        decided = requests.filter(status__in=["fulfilled", "rejected"]).count()
        assert (counter.decided, counter.skipped) == (decided, 0) and decided == counter.arrived


def test_two_drains_started_at_once_serve_the_queue_in_order(make_user, make_event):
    event = make_event(vip=40, regular=150, max_tickets_per_user=4)
    vip, regular = event.ticket_types.get(name="VIP"), event.ticket_types.get(name="Regular")
    rng = random.Random(7)
    for _ in range(150):
        services.enqueue_request(
            user=make_user(), ticket_type_id=rng.choice([vip.pk, regular.pk]), quantity=rng.randint(1, 2)
        )
    queue_order = list(
        TicketRequest.objects.filter(event=event).order_by("-priority", "seq").values_list("pk", flat=True)
    )
    deadline = time.monotonic() + 4
    run_in_processes([(drain_until, (event.pk, deadline, 10)) for _ in range(3)])
    served = list(Order.objects.filter(event=event).order_by("pk").values_list("request_id", flat=True))
    fulfilled = set(served)
    assert served == [pk for pk in queue_order if pk in fulfilled]
    assert not TicketRequest.objects.filter(event=event, status="queued").exists()


def try_enqueue(user_id, ticket_type_id, quantity, barrier_at):
    from ticketing.services import fastqueue

    user = get_user_model().objects.get(pk=user_id)
    real_join_queue = fastqueue.join_queue

    def slow_join_queue(*args, **kwargs):
        # Widen the window between the buyer's lock and the write that reads what they hold (and
        # commits), so that without the per-user lock every process would read the same total.
        time.sleep(0.2)
        return real_join_queue(*args, **kwargs)

    fastqueue.join_queue = slow_join_queue
    time.sleep(max(0.0, barrier_at - time.time()))
    try:
        services.enqueue_request(user=user, ticket_type_id=ticket_type_id, quantity=quantity)
    except errors.LimitExceeded:
        pass


def test_parallel_requests_from_one_account_cannot_beat_the_limit(buyer, make_event):
    event = make_event(max_tickets_per_user=4)
    regular = event.ticket_types.get(name="Regular")
    start = time.time() + 0.5
    run_in_processes([(try_enqueue, (buyer.pk, regular.pk, 2, start)) for _ in range(6)])
    held = TicketRequest.objects.filter(user=buyer, status="queued").aggregate(n=Sum("quantity"))["n"]
    assert held == 4


def enqueue_with_key(user_id, ticket_type_id, key, barrier_at):
    user = get_user_model().objects.get(pk=user_id)
    time.sleep(max(0.0, barrier_at - time.time()))
    services.enqueue_request(user=user, ticket_type_id=ticket_type_id, quantity=1, idempotency_key=key)


def test_simultaneous_requests_with_one_idempotency_key_create_one_request(buyer, regular):
    start = time.time() + 0.5
    run_in_processes([(enqueue_with_key, (buyer.pk, regular.pk, "retry-1", start)) for _ in range(5)])
    assert TicketRequest.objects.filter(user=buyer).count() == 1
    assert AuditEntry.objects.filter(kind="queued").count() == 1


def check_in(ticket_token, staff_id, barrier_at):
    staff = get_user_model().objects.get(pk=staff_id)
    time.sleep(max(0.0, barrier_at - time.time()))
    try:
        services.check_in_ticket(qr_token=ticket_token, staff_user=staff)
    except errors.AlreadyCheckedIn:
        pass


def test_simultaneous_scans_of_one_ticket_admit_it_once(buyer, door_staff, vip):
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=vip.event_id)
    token = Ticket.objects.get().qr_token
    start = time.time() + 0.5
    run_in_processes([(check_in, (token, door_staff.pk, start)) for _ in range(8)])
    assert AuditEntry.objects.filter(kind="checked_in").count() == 1
    assert Ticket.objects.get().checked_in_at is not None
