"""Life after the sale, through the services: the waiting list, cancellations, refunds, cancelled events."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from events.models import SaleState, TicketType
from ticketing import errors, selectors, services
from ticketing.models import AuditEntry, Order, OutboxEmail, Ticket, TicketRequest, TicketTypeCounter
from ticketing.services import ledger

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def small(make_event):
    """An open event with one type of 2 tickets, which buyers may cancel until tomorrow."""
    event = make_event(vip=None, regular=2, cancellation_deadline=timezone.now() + DAY)
    return event.ticket_types.get()


def buy(user, ticket_type, quantity=1):
    request = services.enqueue_request(user=user, ticket_type_id=ticket_type.pk, quantity=quantity)
    services.drain_event_queue(event_id=ticket_type.event_id)
    request.refresh_from_db()
    assert request.status == "fulfilled"
    return request.order


def wait(user, ticket_type, quantity=1):
    return services.enqueue_request(
        user=user, ticket_type_id=ticket_type.pk, quantity=quantity, wait_if_sold_out=True
    )


def counters(ticket_type):
    c = TicketTypeCounter.objects.filter(ticket_type=ticket_type).first()
    return (c.queued, c.waiting, c.checked_in, c.cancelled) if c else (0, 0, 0, 0)


def kinds(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("id").values_list("kind", flat=True))


# The waiting list


def test_a_sold_out_type_refuses_a_plain_request_and_waitlists_a_willing_one(make_user, small):
    buy(make_user(), small, 2)
    with pytest.raises(errors.SoldOut):
        services.enqueue_request(user=make_user(), ticket_type_id=small.pk, quantity=1)
    waiting = wait(make_user(), small)
    assert waiting.status == "waiting"
    assert selectors.arrival_position(ticket_request=waiting).position == 1
    assert counters(small) == (0, 1, 0, 0)
    assert kinds(request=waiting) == ["waiting"]


def test_a_queued_request_turns_waiting_when_its_turn_finds_too_few(make_user, small):
    first = services.enqueue_request(user=make_user(), ticket_type_id=small.pk, quantity=2)
    willing = wait(make_user(), small, 1)
    unwilling = services.enqueue_request(user=make_user(), ticket_type_id=small.pk, quantity=1)
    assert willing.status == unwilling.status == "queued"
    services.drain_event_queue(event_id=small.event_id)
    statuses = dict(TicketRequest.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "fulfilled", willing.pk: "waiting", unwilling.pk: "rejected"}
    assert TicketRequest.objects.get(pk=unwilling.pk).reason == "sold_out"
    assert kinds(request=willing) == ["queued", "waiting"]


def test_cancelled_tickets_go_to_the_waiting_list_in_queue_order(make_user, small):
    order = buy(make_user(), small, 2)
    w1, w2, w3 = (wait(make_user(), small) for _ in range(3))
    assert [selectors.queue_position(ticket_request=w).ahead for w in (w1, w2, w3)] == [0, 1, 2]
    services.cancel_order(user=order.user, order_id=order.pk, ticket_ids=[order.tickets.first().pk])
    services.drain_event_queue(event_id=small.event_id)
    statuses = dict(TicketRequest.objects.filter(pk__in=[w1.pk, w2.pk, w3.pk]).values_list("pk", "status"))
    assert statuses == {w1.pk: "fulfilled", w2.pk: "waiting", w3.pk: "waiting"}
    w3.refresh_from_db()
    assert selectors.queue_position(ticket_request=w3).ahead == 1
    assert kinds(request=w1) == ["waiting", "fulfilled"]


def test_a_waiting_request_that_does_not_fit_lets_a_smaller_later_one_through(make_user, small):
    order = buy(make_user(), small, 2)
    big = wait(make_user(), small, 2)
    later = wait(make_user(), small, 1)
    services.cancel_order(user=order.user, order_id=order.pk, ticket_ids=[order.tickets.first().pk])
    services.drain_event_queue(event_id=small.event_id)
    big.refresh_from_db(), later.refresh_from_db()
    # One ticket came back: the first waiting request needs two, so the next one that fits gets it.
    assert (big.status, later.status) == ("waiting", "fulfilled")


def test_tickets_that_come_back_are_held_for_the_waiting_list(make_user, small):
    order = buy(make_user(), small, 2)
    wait(make_user(), small, 2)
    services.cancel_order(user=order.user, order_id=order.pk, ticket_ids=[order.tickets.first().pk])
    # One ticket is back but someone waits: a newcomer is refused rather than served before them.
    with pytest.raises(errors.SoldOut):
        services.enqueue_request(user=make_user(), ticket_type_id=small.pk, quantity=1)


def test_raising_the_capacity_serves_the_waiting_list_and_is_audited(make_user, admin_user, small):
    buy(make_user(), small, 2)
    waiting = wait(make_user(), small, 2)
    with transaction.atomic():
        TicketType.objects.filter(pk=small.pk).update(capacity=4)
        small.refresh_from_db()
        ledger.capacity_changed(ticket_type=small, old=2, actor_id=admin_user.pk)
    services.drain_event_queue(event_id=small.event_id)
    waiting.refresh_from_db()
    assert waiting.status == "fulfilled"
    entry = AuditEntry.objects.get(kind="capacity_changed")
    assert (entry.quantity, entry.actor_id, entry.reason) == (4, admin_user.pk, "from 2 to 4")
    assert OutboxEmail.objects.filter(kind="waiting_list_served", order_id=waiting.order.pk).exists()


def test_a_buyer_leaves_the_waiting_list(make_user, small):
    buy(make_user(), small, 2)
    buyer = make_user()
    waiting = wait(buyer, small)
    cancelled = services.cancel_request(user=buyer, request_id=waiting.pk)
    assert (cancelled.status, cancelled.reason) == ("cancelled", "by_buyer")
    assert counters(small) == (0, 0, 0, 0)
    assert kinds(request=waiting) == ["waiting", "cancelled"]


def test_the_waiting_list_is_rejected_when_the_sale_closes(make_user, small):
    buy(make_user(), small, 2)
    waiting = wait(make_user(), small)
    small.event.sale_closes_at = timezone.now() - timedelta(seconds=1)
    small.event.sale_opens_at = timezone.now() - DAY
    small.event.save()
    services.drain_due_queues()
    waiting.refresh_from_db()
    assert (waiting.status, waiting.reason) == ("rejected", "sale_closed")
    assert counters(small)[1] == 0


def test_a_deactivated_buyers_requests_are_cancelled_not_served(make_user, small):
    buyer = make_user()
    request = services.enqueue_request(user=buyer, ticket_type_id=small.pk, quantity=1)
    type(buyer).objects.filter(pk=buyer.pk).update(is_active=False)
    services.drain_event_queue(event_id=small.event_id)
    request.refresh_from_db()
    assert (request.status, request.reason) == ("cancelled", "account_deactivated")
    assert not Order.objects.exists()


def test_a_request_pays_the_price_it_was_accepted_at(make_user, small):
    request = services.enqueue_request(user=make_user(), ticket_type_id=small.pk, quantity=2)
    TicketType.objects.filter(pk=small.pk).update(price=Decimal("99.00"))
    services.drain_event_queue(event_id=small.event_id)
    order = Order.objects.get(request=request)
    assert (order.unit_price, order.total) == (Decimal("50.00"), Decimal("100.00"))


# Cancelling orders and tickets


def test_a_buyer_cancels_some_tickets_then_the_rest(make_user, make_event):
    event = make_event(vip=None, regular=5, cancellation_deadline=timezone.now() + DAY)
    regular = event.ticket_types.get()
    order = buy(make_user(), regular, 3)
    first, *rest = order.tickets.order_by("pk")
    order = services.cancel_order(user=order.user, order_id=order.pk, ticket_ids=[first.pk])
    assert (order.status, order.active) == ("partly_cancelled", 2)
    regular.refresh_from_db()
    assert regular.sold == 2 and counters(regular)[3] == 1
    order = services.cancel_order(user=order.user, order_id=order.pk)
    assert (order.status, order.active) == ("cancelled", 0)
    assert set(Ticket.objects.values_list("status", flat=True)) == {"cancelled"}
    assert kinds(order=order, ticket__isnull=True) == [
        "fulfilled",
        "order_partly_cancelled",
        "order_cancelled",
    ]
    assert kinds(kind="ticket_cancelled") == ["ticket_cancelled"] * 3
    assert OutboxEmail.objects.filter(kind="order_cancelled", order_id=order.pk).count() == 2


def test_buyers_cannot_cancel_without_or_after_the_deadline(make_user, make_event):
    event = make_event(vip=None, regular=5)
    order = buy(make_user(), event.ticket_types.get(), 1)
    with pytest.raises(errors.NotCancellable, match="cannot be cancelled online"):
        services.cancel_order(user=order.user, order_id=order.pk)
    event.cancellation_deadline = timezone.now() - timedelta(minutes=1)
    event.save()
    with pytest.raises(errors.NotCancellable, match="that time has passed"):
        services.cancel_order(user=order.user, order_id=order.pk)
    assert Order.objects.get().status == "confirmed"


def test_staff_cancel_any_order_with_a_reason_and_a_refund(make_user, admin_user, make_event):
    event = make_event(vip=None, regular=5)
    order = buy(make_user(), event.ticket_types.get(), 2)
    order = services.cancel_order(
        user=admin_user, order_id=order.pk, reason="duplicate purchase", refund=Decimal("100.00")
    )
    assert (order.status, order.refunded) == ("cancelled", Decimal("100.00"))
    refund = AuditEntry.objects.get(kind="refunded")
    assert (refund.amount, refund.actor_id, refund.reason) == (
        Decimal("100.00"),
        admin_user.pk,
        "duplicate purchase",
    )
    with pytest.raises(errors.InvalidRefund):
        services.record_refund(user=admin_user, order_id=order.pk, amount=Decimal("0.01"))


def test_refusals_change_nothing(make_user, other_buyer, door_staff, small):
    order = buy(make_user(), small, 2)
    checked_in, other = order.tickets.order_by("pk")
    services.check_in_ticket(qr_token=checked_in.qr_token, staff_user=door_staff)
    before = (kinds(), counters(small), Order.objects.get().active)
    cases = [
        (other_buyer, [other.pk], errors.NotFound),
        (order.user, [checked_in.pk], errors.NotCancellable),
        (order.user, [other.pk + 1000], errors.InvalidTickets),
        (order.user, [], errors.InvalidTickets),
    ]
    for user, ids, error in cases:
        with pytest.raises(error):
            services.cancel_order(user=user, order_id=order.pk, ticket_ids=ids)
    with pytest.raises(errors.NotAllowed):
        services.record_refund(user=order.user, order_id=order.pk, amount=Decimal("1"))
    assert (kinds(), counters(small), Order.objects.get().active) == before


def test_the_door_refuses_a_cancelled_ticket_without_using_it(make_user, door_staff, small):
    order = buy(make_user(), small, 1)
    ticket = order.tickets.get()
    services.cancel_order(user=order.user, order_id=order.pk)
    with pytest.raises(errors.TicketCancelled):
        services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.checked_in_at) == ("cancelled", None)
    assert not AuditEntry.objects.filter(kind="checked_in").exists()


# Cancelling an event


def test_cancelling_an_event_cancels_everything_and_emails_every_buyer_once(
    make_user, make_event, admin_user, door_staff
):
    small = make_event(vip=None, regular=3).ticket_types.get()
    holder, queued_buyer, waiting_buyer = make_user(), make_user(), make_user()
    order = buy(holder, small, 2)
    used = order.tickets.first()
    services.check_in_ticket(qr_token=used.qr_token, staff_user=door_staff)
    queued = services.enqueue_request(user=queued_buyer, ticket_type_id=small.pk, quantity=1)
    waiting = wait(waiting_buyer, small, 2)
    assert (queued.status, waiting.status) == ("queued", "waiting")
    event = services.cancel_event(user=admin_user, event_id=small.event_id, reason="storm")
    assert event.sale_state() == SaleState.CANCELLED
    statuses = dict(TicketRequest.objects.values_list("pk", "status"))
    assert statuses[queued.pk] == statuses[waiting.pk] == "cancelled"
    assert set(TicketRequest.objects.filter(status="cancelled").values_list("reason", flat=True)) == {
        "event_cancelled"
    }
    # A ticket already used stays used; the other is cancelled.
    assert dict(Ticket.objects.values_list("pk", "status"))[used.pk] == "checked_in"
    assert Ticket.objects.filter(status="cancelled").count() == 1
    emails = OutboxEmail.objects.values_list("kind", "user_id")
    assert sorted(e for e in emails if e[0] != "order_confirmed") == sorted(
        ("event_cancelled", u.pk) for u in (holder, queued_buyer, waiting_buyer)
    )
    assert kinds(kind="event_cancelled") == ["event_cancelled"]
    with pytest.raises(errors.SaleClosed, match="cancelled"):
        services.enqueue_request(user=make_user(), ticket_type_id=small.pk, quantity=1)
    with pytest.raises(errors.NotCancellable):
        services.cancel_event(user=admin_user, event_id=small.event_id)
    services.send_outbox()
    assert any(m.subject == f"{event.name} is cancelled" for m in mail.outbox)


def test_only_staff_cancel_events(make_user, small):
    with pytest.raises(errors.NotAllowed):
        services.cancel_event(user=make_user(), event_id=small.event_id)


def test_the_sweep_takes_a_deactivated_buyer_off_the_waiting_list(make_user, small, monkeypatch):
    from django_q.conf import Conf

    from ticketing import tasks

    monkeypatch.setattr(Conf, "SYNC", True)

    buy(make_user(), small, 2)
    buyer, after = make_user(), make_user()
    gone = wait(buyer, small)
    behind = wait(after, small)
    type(buyer).objects.filter(pk=buyer.pk).update(is_active=False)
    tasks.sweep()
    gone.refresh_from_db()
    assert (gone.status, gone.reason) == ("cancelled", "account_deactivated")
    assert selectors.queue_position(ticket_request=behind).ahead == 0
    assert counters(small) == (0, 1, 0, 0)
    assert kinds(request=gone) == ["waiting", "cancelled"]


def test_a_long_head_of_waiting_requests_too_big_hides_none_that_fits(make_user, admin_user, make_event):
    event = make_event(vip=None, regular=2, max_tickets_per_user=10)
    regular = event.ticket_types.get()
    order = buy(make_user(), regular, 2)
    big = wait(make_user(), regular, 2)
    small = wait(make_user(), regular, 1)
    services.cancel_order(user=admin_user, order_id=order.pk, ticket_ids=[order.tickets.first().pk])
    # A batch of one: the waiting request too big for the ticket that came back must not take it.
    services.drain_event_queue(event_id=event.pk, batch_size=1)
    big.refresh_from_db(), small.refresh_from_db()
    assert (big.status, small.status) == ("waiting", "fulfilled")


def test_the_waiting_list_is_served_before_the_queue_whatever_the_batch_size(make_user, make_event):
    event = make_event(vip=None, regular=5, max_tickets_per_user=10)
    regular = event.ticket_types.get()
    buy(make_user(), regular, 4)
    queued = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    too_big = wait(make_user(), regular, 2)  # one left: both of these wait at the door
    fits = wait(make_user(), regular, 1)
    services.drain_event_queue(event_id=event.pk, batch_size=1)
    statuses = dict(TicketRequest.objects.values_list("pk", "status"))
    # The last ticket goes to the waiting list's first request that fits, not to the queue.
    assert (statuses[too_big.pk], statuses[fits.pk], statuses[queued.pk]) == (
        "waiting",
        "fulfilled",
        "rejected",
    )


def test_only_staff_record_a_refund_with_a_cancellation(make_user, small):
    order = buy(make_user(), small, 1)
    with pytest.raises(errors.NotAllowed):
        services.cancel_order(user=order.user, order_id=order.pk, refund=Decimal("50.00"))
    assert Order.objects.get().status == "confirmed"
