"""Joining and leaving the queue: every refusal is its own clear error."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ticketing import errors, services
from ticketing.models import AuditEntry, Order, QueueCounter, TicketRequest

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def test_enqueue_creates_a_queued_request_and_its_audit_entry(buyer, vip):
    request = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    assert (request.status, request.quantity, request.event_id, request.priority) == (
        "queued",
        2,
        vip.event_id,
        vip.priority,
    )
    entry = AuditEntry.objects.get()
    assert (entry.kind, entry.request_id, entry.user_id, entry.quantity) == (
        "queued",
        request.pk,
        buyer.pk,
        2,
    )


def test_enqueue_refuses_an_unknown_ticket_type(buyer, event):
    with pytest.raises(errors.UnknownTicketType, match="no ticket type with id 999999"):
        services.enqueue_request(user=buyer, ticket_type_id=999999, quantity=1)


def test_enqueue_refuses_before_the_sale_opens_without_a_waiting_room(buyer, make_event):
    event = make_event(opens_in=timedelta(hours=2))
    with pytest.raises(errors.SaleNotOpen, match=r"go on sale on .* UTC\."):
        services.enqueue_request(user=buyer, ticket_type_id=event.ticket_types.first().pk, quantity=1)


def test_enqueue_refuses_after_the_sale_closed(buyer, make_event):
    event = make_event(opens_in=timedelta(hours=-2), closes_in=timedelta(minutes=-1))
    with pytest.raises(errors.SaleClosed, match="has closed"):
        services.enqueue_request(user=buyer, ticket_type_id=event.ticket_types.first().pk, quantity=1)


@pytest.mark.parametrize("quantity", [0, -1, 5, 10_000])
def test_enqueue_refuses_a_quantity_outside_one_to_max_per_request(buyer, vip, quantity):
    with pytest.raises(errors.InvalidQuantity, match="1 to 4 VIP tickets"):
        services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=quantity)
    assert not TicketRequest.objects.exists()


def test_enqueue_refuses_a_sold_out_type_at_once(buyer, other_buyer, make_event):
    event = make_event(vip=2, regular=None)
    vip = event.ticket_types.get()
    services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=2)
    services.drain_event_queue(event_id=event.pk)
    with pytest.raises(errors.SoldOut, match="sold out"):
        services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)


def test_enqueue_refuses_more_than_are_left(buyer, make_event):
    event = make_event(vip=3, regular=None)
    with pytest.raises(errors.SoldOut, match="Only 3 VIP tickets are left"):
        services.enqueue_request(user=buyer, ticket_type_id=event.ticket_types.get().pk, quantity=4)


def test_enqueue_counts_queued_and_bought_tickets_against_the_per_user_limit(buyer, make_event):
    event = make_event(max_tickets_per_user=5)
    vip, regular = event.ticket_types.get(name="VIP"), event.ticket_types.get(name="Regular")
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    services.drain_event_queue(event_id=event.pk)
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=2)
    counted = list(QueueCounter.objects.values_list("arrived", flat=True))
    with pytest.raises(errors.LimitExceeded, match="at most 5 tickets.*already have 4"):
        services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=2)
    # Refused after it was written (on PostgreSQL, in the statement that writes it): nothing stays.
    assert list(QueueCounter.objects.values_list("arrived", flat=True)) == counted
    assert TicketRequest.objects.count() == 2 and AuditEntry.objects.count() == 3
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)


def test_cancelled_and_rejected_requests_do_not_count_against_the_limit(buyer, other_buyer, make_event):
    event = make_event(
        vip=None, regular=4, max_tickets_per_user=4, cancellation_deadline=timezone.now() + DAY
    )
    regular = event.ticket_types.get()
    # Cancelled while queued.
    first = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=4)
    services.cancel_request(user=buyer, request_id=first.pk)
    # Rejected at its turn: someone else bought 3 first, so 4 no longer fit.
    services.enqueue_request(user=other_buyer, ticket_type_id=regular.pk, quantity=3)
    rejected = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=4)
    services.drain_event_queue(event_id=event.pk)
    rejected.refresh_from_db()
    assert (rejected.status, rejected.reason) == ("rejected", "sold_out")
    # Bought, then cancelled.
    bought = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)
    services.cancel_order(user=buyer, order_id=Order.objects.get(request=bought).pk)
    # None of the 9 tickets asked for above is held, so all 4 may be asked for again.
    last = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=4, wait_if_sold_out=True)
    assert last.status in ("queued", "waiting")
    with pytest.raises(errors.LimitExceeded, match="you already have 4"):
        services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1, wait_if_sold_out=True)


def test_a_waiting_request_and_a_bought_ticket_count_against_the_limit(buyer, make_event):
    event = make_event(vip=None, regular=2, max_tickets_per_user=3)
    regular = event.ticket_types.get()
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=2)
    services.drain_event_queue(event_id=event.pk)
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1, wait_if_sold_out=True)
    with pytest.raises(errors.LimitExceeded, match="you already have 3"):
        services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1, wait_if_sold_out=True)


def test_idempotency_key_returns_the_first_request_again(buyer, vip):
    first = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1, idempotency_key="k-1")
    again = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1, idempotency_key="k-1")
    assert again.pk == first.pk and again.quantity == 1
    assert TicketRequest.objects.count() == 1
    assert AuditEntry.objects.count() == 1


@pytest.mark.parametrize(
    "changed", [{"quantity": 3}, {"wait_if_sold_out": True}, {"ticket_type_id": "regular"}]
)
def test_an_idempotency_key_reused_for_another_request_is_refused(buyer, vip, regular, changed):
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1, idempotency_key="k-1")
    asked = {"ticket_type_id": vip.pk, "quantity": 1, **changed}
    if asked["ticket_type_id"] == "regular":
        asked["ticket_type_id"] = regular.pk
    with pytest.raises(errors.IdempotencyKeyReused):
        services.enqueue_request(user=buyer, idempotency_key="k-1", **asked)
    assert TicketRequest.objects.count() == 1
    assert AuditEntry.objects.count() == 1


def test_idempotency_keys_are_per_user(buyer, other_buyer, vip):
    a = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1, idempotency_key="same")
    b = services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1, idempotency_key="same")
    assert a.pk != b.pk


def test_owner_cancels_a_queued_request(buyer, vip):
    request = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    cancelled = services.cancel_request(user=buyer, request_id=request.pk)
    assert cancelled.status == "cancelled" and cancelled.processed_at is not None
    assert list(AuditEntry.objects.order_by("id").values_list("kind", flat=True)) == ["queued", "cancelled"]
    result = services.drain_event_queue(event_id=vip.event_id)
    assert (result.fulfilled, result.rejected) == (0, 0)


def test_another_user_cannot_cancel_and_learns_nothing(buyer, other_buyer, vip):
    request = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    with pytest.raises(errors.NotFound):
        services.cancel_request(user=other_buyer, request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "queued"


def test_a_served_request_cannot_be_cancelled(buyer, vip):
    request = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=vip.event_id)
    with pytest.raises(errors.NotCancellable, match="already fulfilled"):
        services.cancel_request(user=buyer, request_id=request.pk)


def test_enqueue_wakes_the_cluster_once_per_burst(
    buyer, other_buyer, vip, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(services.wakeups, "async_task", lambda *a, **k: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)
    assert queued == [("ticketing.tasks.drain_event", vip.event_id)]
    services.wakeups.drain_started(vip.event_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)
    assert len(queued) == 2


def test_a_refused_request_wakes_nobody(buyer, vip, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(services.wakeups, "async_task", lambda *a, **k: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(errors.InvalidQuantity):
        services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=99)
    assert queued == []
