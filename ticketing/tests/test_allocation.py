"""Serving the queue: order of service, all or nothing, limits, and never an oversell."""

import itertools
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from events.models import TicketType
from ticketing import selectors, services
from ticketing.models import AuditEntry, Order, Ticket, TicketRequest
from ticketing.services import allocation, ledger, places

pytestmark = pytest.mark.django_db


def served_order(event_id):
    """Request ids in the order the drain served them (orders are created in service order)."""
    return list(Order.objects.filter(event_id=event_id).order_by("id").values_list("request_id", flat=True))


def test_vip_is_served_before_regular_then_first_come_first_served(make_user, event, vip, regular):
    users = [make_user() for _ in range(4)]
    r1 = services.enqueue_request(user=users[0], ticket_type_id=regular.pk, quantity=1)
    r2 = services.enqueue_request(user=users[1], ticket_type_id=vip.pk, quantity=1)
    r3 = services.enqueue_request(user=users[2], ticket_type_id=regular.pk, quantity=1)
    r4 = services.enqueue_request(user=users[3], ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)
    assert served_order(event.pk) == [r2.pk, r4.pk, r1.pk, r3.pk]


def test_batches_keep_the_queue_order(make_user, event, vip, regular):
    requests = [
        services.enqueue_request(user=make_user(), ticket_type_id=t.pk, quantity=1)
        for t in [regular, vip, regular, vip, regular, regular, vip]
    ]
    result = services.drain_event_queue(event_id=event.pk, batch_size=2)
    assert result.batches == 4
    expected = [r.pk for r in requests if r.ticket_type_id == vip.pk] + [
        r.pk for r in requests if r.ticket_type_id == regular.pk
    ]
    assert served_order(event.pk) == expected


def test_fulfilled_request_gets_one_order_and_one_ticket_per_admission(buyer, vip):
    request = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=3)
    result = services.drain_event_queue(event_id=vip.event_id)
    assert (result.fulfilled, result.tickets) == (1, 3)
    request.refresh_from_db()
    assert request.status == "fulfilled" and request.processed_at is not None
    order = request.order
    assert (order.quantity, order.unit_price, order.total) == (3, vip.price, vip.price * 3)
    tokens = list(order.tickets.values_list("qr_token", flat=True))
    assert len(tokens) == 3 and len(set(tokens)) == 3 and all(len(t) >= 32 for t in tokens)
    vip.refresh_from_db()
    assert vip.sold == 3


def test_all_or_nothing_a_request_larger_than_what_is_left_is_rejected_whole(make_user, make_event):
    event = make_event(vip=5, regular=None)
    vip = event.ticket_types.get()
    a = services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=3)
    b = services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=3)
    c = services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=2)
    services.drain_event_queue(event_id=event.pk)
    statuses = dict(TicketRequest.objects.values_list("pk", "status"))
    assert statuses == {a.pk: "fulfilled", b.pk: "rejected", c.pk: "fulfilled"}
    assert TicketRequest.objects.get(pk=b.pk).reason == "sold_out"
    assert not Order.objects.filter(request_id=b.pk).exists()
    vip.refresh_from_db()
    assert vip.sold == 5 == Ticket.objects.count()


def test_limit_is_checked_again_at_allocation(buyer, make_event):
    event = make_event(max_tickets_per_user=4)
    regular = event.ticket_types.get(name="Regular")
    first = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=3)
    second = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    # The organiser lowers the limit while both wait.
    type(event).objects.filter(pk=event.pk).update(max_tickets_per_user=3)
    services.drain_event_queue(event_id=event.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status, second.reason) == ("fulfilled", "rejected", "limit_exceeded")


def test_requests_left_when_the_sale_closes_are_rejected_as_sale_closed(buyer, make_event):
    event = make_event(opens_in=timedelta(hours=-1))
    request = services.enqueue_request(user=buyer, ticket_type_id=event.ticket_types.first().pk, quantity=1)
    type(event).objects.filter(pk=event.pk).update(sale_closes_at=timezone.now() - timedelta(seconds=1))
    services.drain_event_queue(event_id=event.pk)
    request.refresh_from_db()
    assert (request.status, request.reason) == ("rejected", "sale_closed")
    assert AuditEntry.objects.filter(kind="rejected", reason="sale_closed").count() == 1


def test_waiting_room_is_not_served_before_the_sale_opens(buyer, make_event):
    event = make_event(opens_in=timedelta(hours=1), waiting_room=timedelta(minutes=-5))
    request = services.enqueue_request(user=buyer, ticket_type_id=event.ticket_types.first().pk, quantity=1)
    assert services.drain_event_queue(event_id=event.pk).batches == 0
    request.refresh_from_db()
    assert request.status == "queued"


def test_waiting_room_arrivals_are_served_before_anyone_who_came_after_opening(make_user, make_event):
    event = make_event(opens_in=timedelta(minutes=10), waiting_room=timedelta(minutes=-5))
    regular = event.ticket_types.get(name="Regular")
    early = [
        services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1) for _ in range(8)
    ]
    # The sale opens; a bot fires at the opening millisecond.
    type(event).objects.filter(pk=event.pk).update(sale_opens_at=timezone.now())
    late = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)
    # The waiting room is served in the order of its draws (arrival order would match them
    # by chance once in 8! runs), then the later arrival.
    by_draw = sorted(early, key=lambda r: r.draw)
    assert served_order(event.pk) == [*(r.pk for r in by_draw), late.pk]


def test_waiting_room_order_is_a_uniform_random_permutation(make_user, make_event):
    # 3 arrivals: each of the 6 orders should come up 1/6 of the time. The threshold is the
    # chi-square quantile for 5 degrees of freedom at p = 1e-6, so a fair shuffle fails this
    # about once in a million runs, while a biased one (e.g. arrival order kept) always does.
    event = make_event(opens_in=timedelta(minutes=10), waiting_room=timedelta(minutes=-5))
    regular = event.ticket_types.get(name="Regular")
    users = [make_user() for _ in range(3)]
    trials = 600
    counts = Counter()
    for _ in range(trials):
        TicketRequest.objects.all().delete()
        type(event).objects.filter(pk=event.pk).update(sale_opens_at=timezone.now() + timedelta(minutes=10))
        event.refresh_from_db()
        arrivals = [services.enqueue_request(user=u, ticket_type_id=regular.pk, quantity=1).pk for u in users]
        type(event).objects.filter(pk=event.pk).update(sale_opens_at=timezone.now())
        places.place_waiting_room(event_id=event.pk)
        placed = TicketRequest.objects.filter(pk__in=arrivals).order_by("seq").values_list("pk", flat=True)
        counts[tuple(arrivals.index(pk) for pk in placed)] += 1
    expected = trials / 6
    chi2 = sum((counts[p] - expected) ** 2 / expected for p in itertools.permutations(range(3)))
    assert chi2 < 35.9, counts


def test_only_waiting_room_arrivals_get_a_draw(event):
    assert places.draw_for(event=event, now=event.sale_opens_at) is None
    draws = {
        places.draw_for(event=event, now=event.sale_opens_at - timedelta(seconds=1)) for _ in range(1000)
    }
    assert None not in draws and len(draws) == 1000


def test_draining_again_changes_nothing(buyer, vip):
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    services.drain_event_queue(event_id=vip.event_id)
    snapshot = (Order.objects.count(), Ticket.objects.count(), AuditEntry.objects.count())
    result = services.drain_event_queue(event_id=vip.event_id)
    assert (result.fulfilled, result.rejected, result.batches) == (0, 0, 0)
    assert (Order.objects.count(), Ticket.objects.count(), AuditEntry.objects.count()) == snapshot


def test_a_crash_mid_batch_leaves_nothing_half_done_and_the_batch_is_served_again(
    make_user, vip, monkeypatch
):
    requests = [
        services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=2) for _ in range(3)
    ]
    real_insert_tickets = ledger._insert_tickets

    def crash(*args, **kwargs):
        real_insert_tickets(*args, **kwargs)
        raise SystemExit("worker killed")

    monkeypatch.setattr(ledger, "_insert_tickets", crash)
    with pytest.raises(SystemExit):
        services.drain_event_queue(event_id=vip.event_id)
    vip.refresh_from_db()
    assert vip.sold == 0
    assert not Order.objects.exists() and not Ticket.objects.exists()
    assert set(TicketRequest.objects.values_list("status", flat=True)) == {"queued"}
    monkeypatch.undo()
    services.drain_event_queue(event_id=vip.event_id)
    vip.refresh_from_db()
    assert vip.sold == 6 == Ticket.objects.count()
    assert served_order(vip.event_id) == [r.pk for r in requests]


def test_the_conditional_update_refuses_what_a_faulty_decision_would_oversell(
    make_user, make_event, monkeypatch
):
    event = make_event(vip=4, regular=None)
    vip = event.ticket_types.get()
    for _ in range(3):
        services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=2)
    # A bug in the decision step that fulfils everything must still not oversell.
    monkeypatch.setattr(
        allocation,
        "_decide",
        lambda *, queued, **_: [ledger.Move(r, TicketRequest.Status.FULFILLED) for r in queued],
    )
    with pytest.raises(ledger.CounterConflict):
        services.drain_event_queue(event_id=event.pk)
    vip.refresh_from_db()
    assert vip.sold == 0
    assert not Order.objects.exists() and not Ticket.objects.exists()


def test_accounting_adds_up_after_a_mixed_drain(make_user, make_event):
    event = make_event(vip=7, regular=11, max_tickets_per_user=4)
    types = list(event.ticket_types.all())
    for i in range(30):
        services.enqueue_request(user=make_user(), ticket_type_id=types[i % 2].pk, quantity=1 + i % 4)
    services.drain_event_queue(event_id=event.pk, batch_size=7)
    for t in TicketType.objects.filter(event=event):
        fulfilled = TicketRequest.objects.filter(ticket_type=t, status="fulfilled").aggregate(
            n=Sum("quantity")
        )["n"]
        assert t.sold == fulfilled == Ticket.objects.filter(ticket_type=t).count() <= t.capacity
    assert not TicketRequest.objects.filter(status="queued").exists()
    kinds = Counter(AuditEntry.objects.values_list("kind", flat=True))
    assert kinds["queued"] == 30 == kinds["fulfilled"] + kinds["rejected"]


def test_drain_due_queues_serves_every_event_and_a_zero_budget_serves_one_batch(make_user, make_event):
    events = [make_event(), make_event()]
    for e in events:
        for _ in range(3):
            services.enqueue_request(user=make_user(), ticket_type_id=e.ticket_types.first().pk, quantity=1)
    settings_batch = allocation.settings.EVENTTIX_DRAIN_BATCH_SIZE
    allocation.settings.EVENTTIX_DRAIN_BATCH_SIZE = 2
    try:
        one_tick = services.drain_due_queues(time_budget=0)
    finally:
        allocation.settings.EVENTTIX_DRAIN_BATCH_SIZE = settings_batch
    assert {k: v.fulfilled for k, v in one_tick.items()} == {events[0].pk: 2, events[1].pk: 2}
    rest = services.drain_due_queues()
    assert {k: v.fulfilled for k, v in rest.items()} == {events[0].pk: 1, events[1].pk: 1}


def test_a_waiting_room_arrival_committing_after_the_draw_is_placed_by_a_later_batch(make_user, make_event):
    # The sale opened 10 s ago; arrivals that read the clock 30 s ago were in the waiting room.
    event = make_event(opens_in=timedelta(seconds=-10), waiting_room=timedelta(minutes=-5))
    vip = event.ticket_types.get(name="VIP")
    before_opening = timezone.now() - timedelta(seconds=30)
    early = services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1, now=before_opening)
    after = services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)  # the draw: places `early`
    # An arrival that read the clock before the opening but committed after the draw: it carries
    # a draw, and the next batch places it (it keeps its own number: nobody else is unplaced).
    late = services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1, now=before_opening)
    assert late.draw is not None
    assert selectors.queue_position(ticket_request=late).waiting_room
    services.drain_event_queue(event_id=event.pk)
    statuses = dict(TicketRequest.objects.values_list("pk", "status"))
    assert statuses == {early.pk: "fulfilled", after.pk: "fulfilled", late.pk: "fulfilled"}
    assert not TicketRequest.objects.filter(draw__isnull=False).exists()


def test_the_sweep_serves_queues_has_owed_emails_sent_and_logs_every_entry(
    make_user, make_event, settings, tmp_path, monkeypatch
):
    from django.core import mail
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)  # the drains the sweep asks for run at once

    from ticketing import tasks
    from ticketing.tests.csvfiles import read_csv

    settings.TRANSACTIONS_CSV = tmp_path / "log.csv"
    events = [make_event(), make_event()]
    for event in events:
        vip = event.ticket_types.get(name="VIP")
        services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1)
    summary = tasks.sweep()
    assert sorted(summary["drains"]) == sorted(e.pk for e in events)
    assert TicketRequest.objects.filter(status="fulfilled").count() == 2
    assert summary["emails"] is True  # a run of the sender asked for (here run at once)
    assert len(mail.outbox) == 2
    assert [row["kind"] for row in read_csv(settings.TRANSACTIONS_CSV)] == [
        "queued",
        "queued",
        "fulfilled",
        "fulfilled",
    ]
    assert tasks.sweep() == {"drains": [], "openings": [], "emails": 0, "csv_rows": 0}
