"""Queue position, the number ahead and the ETA."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from ticketing import errors, selectors, services
from ticketing.models import QueueCounter, TicketRequest

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


def test_places_are_numbered_per_priority_without_gaps(make_user, vip, regular):
    kinds = [regular, vip, regular, vip, vip, regular, regular]
    made = [services.enqueue_request(user=make_user(), ticket_type_id=t.pk, quantity=1) for t in kinds]
    assert [r.seq for r in made] == [1, 1, 2, 2, 3, 3, 4]
    counters = dict(QueueCounter.objects.values_list("priority", "arrived"))
    assert counters == {vip.priority: 3, regular.priority: 4}


def test_a_refused_arrival_leaves_no_gap(make_user, regular):
    first = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    with pytest.raises(errors.InvalidQuantity):
        services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=99)
    second = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    assert (first.seq, second.seq) == (1, 2)
    assert selectors.queue_position(ticket_request=second).position == 2


def test_position_matches_a_count_of_the_queue_through_a_mixed_sale(make_user, make_event):
    """Waiting-room arrivals, the opening, later arrivals, cancellations and batches served,
    interleaved: for every queued request the counters give the place that counting the queue
    in service order gives."""
    event = make_event(
        vip=30,
        regular=60,
        max_tickets_per_user=10,
        opens_in=timedelta(minutes=5),
        waiting_room=timedelta(minutes=-5),
    )
    types = list(event.ticket_types.all())
    rng = random.Random(11)
    users = [make_user() for _ in range(25)]
    requests = []
    for step in range(120):
        if step == 30:
            type(event).objects.filter(pk=event.pk).update(sale_opens_at=timezone.now())
        move = rng.random()
        if move < 0.6:
            try:
                new = services.enqueue_request(
                    user=rng.choice(users), ticket_type_id=rng.choice(types).pk, quantity=rng.randint(1, 3)
                )
            except errors.TicketingError:
                continue  # over the limit or sold out: refused, and no place taken
            requests.append(new)
            # The answer to joining gives, from the arrival alone, the place a full read gives.
            fresh = TicketRequest.objects.get(pk=new.pk)
            assert (
                selectors.arrival_position(ticket_request=new).position
                == selectors.queue_position(ticket_request=fresh).position
            ), step
        elif move < 0.75 and requests:
            victim = rng.choice(requests)
            if TicketRequest.objects.get(pk=victim.pk).status == "queued":
                services.cancel_request(user=victim.user, request_id=victim.pk)
        else:
            services.drain_event_queue(event_id=event.pk, batch_size=rng.randint(1, 4), time_budget=0)
        in_order = list(
            TicketRequest.objects.filter(event=event, status="queued").order_by("-priority", "seq")
        )
        # Waiting-room arrivals have no place until the first batch after opening draws them.
        expected = [None if r.draw is not None else place for place, r in enumerate(in_order, start=1)]
        assert [selectors.queue_position(ticket_request=r).position for r in in_order] == expected, step
    assert TicketRequest.objects.filter(event=event).count() > 40
    assert TicketRequest.objects.filter(event=event, status="cancelled").count() > 5
    assert not TicketRequest.objects.filter(event=event, status="queued", draw__isnull=False).exists()


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
    services.drain_event_queue(event_id=regular.event_id)
    TicketRequest.objects.filter(pk__in=[r.pk for r in served]).update(
        processed_at=now - timedelta(seconds=10)
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
