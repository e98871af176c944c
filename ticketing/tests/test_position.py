"""Queue position, the number ahead and the ETA."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ticketing import selectors, services
from ticketing.models import TicketRequest

pytestmark = pytest.mark.django_db


def test_position_counts_higher_priority_and_earlier_arrivals_only(make_user, make_event):
    event = make_event()
    vip, regular = event.ticket_types.get(name="VIP"), event.ticket_types.get(name="Regular")
    other = make_event()
    services.enqueue_request(user=make_user(), ticket_type_id=other.ticket_types.first().pk, quantity=1)
    r1 = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    r2 = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    v1 = services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1)
    positions = {r.pk: selectors.queue_position(ticket_request=r) for r in (r1, r2, v1)}
    assert (positions[v1.pk].position, positions[v1.pk].ahead) == (1, 0)
    assert (positions[r1.pk].position, positions[r1.pk].ahead) == (2, 1)
    assert (positions[r2.pk].position, positions[r2.pk].ahead) == (3, 2)


def test_ties_on_the_queue_key_are_broken_by_arrival(make_user, regular):
    a = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    b = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    TicketRequest.objects.update(queue_key=42)
    a.refresh_from_db()
    b.refresh_from_db()
    assert selectors.queue_position(ticket_request=a).position == 1
    assert selectors.queue_position(ticket_request=b).position == 2


def test_position_moves_up_as_requests_ahead_are_served_or_cancelled(make_user, regular):
    users = [make_user() for _ in range(3)]
    a, b, c = (services.enqueue_request(user=u, ticket_type_id=regular.pk, quantity=1) for u in users)
    services.cancel_request(user=users[1], request_id=b.pk)
    assert selectors.queue_position(ticket_request=c).position == 2
    services.drain_event_queue(event_id=regular.event_id, batch_size=1, time_budget=0)
    assert selectors.queue_position(ticket_request=c).position == 1


def test_served_request_has_no_position_and_names_its_order(buyer, regular):
    request = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=regular.event_id)
    request.refresh_from_db()
    position = selectors.queue_position(ticket_request=request)
    assert (position.status, position.position, position.ahead) == ("fulfilled", None, 0)
    assert position.order_id == request.order.pk


def test_eta_comes_from_the_measured_drain_rate(make_user, regular):
    now = timezone.now()
    served = [
        services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1) for _ in range(30)
    ]
    TicketRequest.objects.filter(pk__in=[r.pk for r in served]).update(
        status="fulfilled", processed_at=now - timedelta(seconds=10)
    )
    waiting = [
        services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1) for _ in range(4)
    ]
    # 30 served in the last minute: 0.5 per second; the 4th in line waits about 8 s.
    position = selectors.queue_position(ticket_request=waiting[3], now=now)
    assert position.position == 4
    assert position.eta_seconds == pytest.approx(8.0)


def test_eta_is_unknown_before_anything_was_served(buyer, regular):
    request = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    assert selectors.queue_position(ticket_request=request).eta_seconds is None


def test_waiting_room_promises_no_place_until_the_sale_opens(buyer, make_event):
    event = make_event(opens_in=timedelta(minutes=5), waiting_room=timedelta(minutes=-5))
    request = services.enqueue_request(user=buyer, ticket_type_id=event.ticket_types.first().pk, quantity=1)
    position = selectors.queue_position(ticket_request=request)
    assert position.waiting_room and position.position is None and position.status == "queued"


def test_position_reads_share_one_drain_rate_measurement(make_user, regular, django_assert_num_queries):
    waiting = [
        services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1) for _ in range(2)
    ]
    first = selectors.queue_position(ticket_request=waiting[0])
    # The second read counts who is ahead, but does not measure the drain rate again.
    with django_assert_num_queries(1):
        second = selectors.queue_position(ticket_request=waiting[1])
    assert (first.position, second.position) == (1, 2)
