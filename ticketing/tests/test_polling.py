"""The server tells each client when to ask again: soon near the front, rarely far back, never in step."""

import random
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import as_user
from ticketing import selectors, services
from ticketing.models import TicketRequest
from ticketing.selectors import QueuePosition
from ticketing.services import polling

pytestmark = pytest.mark.django_db


def position(status="queued", *, ahead=0, eta=None, waiting_room=False, drawn_ahead=None):
    place = None if waiting_room else ahead + 1
    return QueuePosition(1, status, place, ahead, eta, waiting_room, None, drawn_ahead=drawn_ahead)


class NoJitter:
    def uniform(self, low, high):
        return low


def after(pos, event, now=None, seed=1):
    return polling.poll_after(pos, event=event, now=now or timezone.now(), rng=random.Random(seed))


def test_decided_requests_stop_polling(event):
    for status in ("fulfilled", "rejected", "cancelled"):
        assert after(position(status), event) is None


def test_near_the_front_soon_far_back_rarely(event):
    front = after(position(ahead=3, eta=0.5), event)
    middle = after(position(ahead=40_000, eta=20.0), event)
    far = after(position(ahead=900_000, eta=600.0), event)
    assert 1.0 <= front <= 1.2
    assert 4.0 <= middle <= 6.0
    assert 16.0 <= far <= 24.0


def test_a_request_in_the_next_batch_polls_soon_however_slow_the_recent_rate(event, settings):
    # One request served in the last minute gives an ETA of a minute; the drain takes the next
    # batch in milliseconds once it runs, so the page must not wait a quarter of that minute.
    settings.EVENTTIX_DRAIN_BATCH_SIZE = 500
    assert 1.0 <= after(position(ahead=0, eta=60.0), event) <= 1.2
    assert 1.0 <= after(position(ahead=499, eta=600.0), event) <= 1.2
    assert 16.0 <= after(position(ahead=500, eta=600.0), event) <= 24.0


def test_without_a_measured_rate_the_front_polls_every_couple_of_seconds(event):
    assert 1.6 <= after(position(ahead=10, eta=None), event) <= 2.4
    assert 4.0 <= after(position(ahead=50_000, eta=None), event) <= 6.0


def test_a_waiting_list_polls_slowly(event):
    assert 8.0 <= after(position("waiting", ahead=5), event) <= 12.0


def test_the_waiting_room_comes_back_just_after_the_opening_spread_out(event):
    opens = event.sale_opens_at
    far = after(position(waiting_room=True), event, now=opens - timedelta(minutes=10))
    opened = after(position(waiting_room=True), event, now=opens + timedelta(seconds=1))
    assert 16.0 <= far <= 24.0
    assert 1.6 <= opened <= 2.4
    # Ten seconds before the opening, at the front of the draw: back 1 to 3 s after it, not all
    # in the same instant.
    near = {
        after(position(waiting_room=True, drawn_ahead=0), event, now=opens - timedelta(seconds=10), seed=s)
        for s in range(100)
    }
    assert min(near) >= 11.0 and max(near) <= 13.0 and len(near) > 10


def test_the_waiting_room_comes_back_front_first_at_the_poll_budget(event, settings):
    settings.EVENTTIX_POLL_BUDGET_PER_S = 150
    opens = event.sale_opens_at

    def back(drawn_ahead):
        pos = position(waiting_room=True, drawn_ahead=drawn_ahead)
        return after(pos, event, now=opens - timedelta(seconds=10))

    # 1,500 drawn ahead: the 150-a-second return reaches it 10 s after the front.
    assert 21.0 <= back(1_500) <= 23.0
    # However large the room, nobody is asked to wait more than half a minute past the opening.
    assert 41.0 <= back(1_000_000) <= 43.0
    assert back(0) < back(300) < back(3_000)


def test_the_waiting_room_is_asked_back_in_the_order_it_is_served(make_user, make_event, settings):
    settings.EVENTTIX_POLL_BUDGET_PER_S = 5  # 40 requests spread over 8 s
    event = make_event(opens_in=timedelta(minutes=5), waiting_room=timedelta(hours=-1))
    vip, regular = event.ticket_types.get(name="VIP"), event.ticket_types.get(name="Regular")
    for ticket_type in [regular] * 30 + [vip] * 10:
        services.enqueue_request(user=make_user(), ticket_type_id=ticket_type.pk, quantity=1)
    now = event.sale_opens_at - timedelta(seconds=10)
    back = {}
    for request in TicketRequest.objects.filter(event=event).select_related("event"):
        pos = selectors.queue_position(ticket_request=request, now=now)
        back[request.pk] = polling.poll_after(pos, event=event, now=now, rng=NoJitter())

    type(event).objects.filter(pk=event.pk).update(sale_opens_at=timezone.now())
    services.drain_event_queue(event_id=event.pk)
    # The drain served VIP first, each priority in the order of its draw (its places): the
    # room was asked back in that order, the front first.
    served = TicketRequest.objects.filter(event=event).order_by("-priority", "seq")
    times = [back[pk] for pk in served.values_list("pk", flat=True)]
    assert times == sorted(times)
    assert times[0] < times[-1] - 5


def test_a_crowd_is_spread_out_not_in_step(event):
    seen = {after(position(ahead=10_000, eta=40.0), event, seed=seed) for seed in range(200)}
    assert len(seen) > 20
    assert min(seen) >= 8.0 and max(seen) <= 12.0


def test_the_api_says_when_to_ask_again_in_the_body_and_retry_after(api, buyer, regular):
    created = as_user(api, buyer).post(
        "/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 1}, format="json"
    )
    assert created.status_code == 202
    assert created.json()["poll_after_seconds"] >= 1.0
    response = api.get(f"/api/queue/position?request_id={created.json()['id']}")
    seconds = response.json()["poll_after_seconds"]
    assert 1.0 <= seconds <= 24.0
    assert int(response["Retry-After"]) == -(-seconds // 1)

    services.drain_event_queue(event_id=regular.event_id)
    decided = api.get(f"/api/queue/position?request_id={created.json()['id']}")
    assert decided.json()["status"] == "fulfilled"
    assert decided.json()["poll_after_seconds"] is None
    assert "Retry-After" not in decided


def test_the_page_polls_once_after_the_servers_delay(client, buyer, regular):
    mine = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    client.force_login(buyer)
    response = client.get(mine.get_absolute_url())
    delay = float(re.search(r'hx-trigger="load delay:([0-9.]+)s"', response.content.decode()).group(1))
    assert delay == response.context["position"].poll_after_seconds
    assert 1.0 <= delay <= 24.0


def test_the_api_poll_of_a_queued_request_reads_little(api, buyer, regular, django_assert_max_num_queries):
    mine = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    as_user(api, buyer)
    api.get(f"/api/queue/position?request_id={mine.pk}")  # the drain rate is then cached
    # The request with its event and the account, then the counters ahead: no user read.
    with django_assert_max_num_queries(2):
        assert api.get(f"/api/queue/position?request_id={mine.pk}").status_code == 200


def test_no_second_is_handed_more_polls_than_the_budget(settings):
    settings.EVENTTIX_POLL_BUDGET_PER_S = 3
    at = 1_000_000.0  # a fixed clock: seconds 1,000,001 onwards
    given = [polling.scheduled(1.0, at=at, rng=random.Random(n)) for n in range(10)]
    seconds = Counter(int(at + g) for g in given)
    assert max(seconds.values()) <= 3
    assert sorted(given)[:3] == [1.0, 1.0, 1.0]  # the first three as asked
    assert all(g >= 1.0 for g in given) and len(seconds) >= 4


def test_a_long_interval_is_not_moved_by_a_full_near_second(settings):
    settings.EVENTTIX_POLL_BUDGET_PER_S = 2
    at = 2_000_000.0
    for n in range(5):
        polling.scheduled(1.0, at=at, rng=random.Random(n))
    assert polling.scheduled(12.0, at=at) == 12.0


def test_the_api_spreads_a_crowd_of_polls_over_the_budget(api, make_user, regular, settings):
    settings.EVENTTIX_POLL_BUDGET_PER_S = 2
    asked = []
    for _ in range(6):
        mine = services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
        as_user(api, mine.user)
        asked.append(api.get(f"/api/queue/position?request_id={mine.pk}").json()["poll_after_seconds"])
    # Six buyers asking at once, two polls a second: not all told the same second.
    assert max(asked) - min(asked) >= 1.5
