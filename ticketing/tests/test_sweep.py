"""The minute sweep asks for what a lost wake-up left, and the opening of a sale wakes the drain."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from ticketing import services, tasks
from ticketing.models import TicketRequest
from ticketing.services import wakeups

pytestmark = pytest.mark.django_db(transaction=True)  # wake-ups run after a real commit


@pytest.fixture
def queued_tasks(monkeypatch):
    """What would be handed to the broker: (task name, args) in order."""
    queued = []
    monkeypatch.setattr(wakeups, "async_task", lambda name, *args, **kwargs: queued.append((name, args)))
    return queued


def test_the_sweep_asks_for_a_drain_even_while_a_lost_tasks_marker_remains(
    make_user, event, vip, queued_tasks
):
    services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1)
    assert queued_tasks == [("ticketing.tasks.drain_event", (event.pk,))]
    # That task was lost (say, the Redis broker restarted); its marker still holds back wake-ups.
    queued_tasks.clear()
    services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1)
    assert queued_tasks == []

    summary = tasks.sweep()

    assert summary["drains"] == [event.pk]
    assert queued_tasks == [("ticketing.tasks.drain_event", (event.pk,))]
    assert TicketRequest.objects.filter(status="queued").count() == 2  # served by that task


def test_a_waiting_room_arrival_queues_no_drain_that_could_do_nothing(make_user, make_event, queued_tasks):
    event = make_event(opens_in=timedelta(minutes=5), waiting_room=timedelta(minutes=-5))
    vip = event.ticket_types.get(name="VIP")
    services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1)
    assert queued_tasks == []


def test_the_sweep_wakes_the_drain_at_an_opening_within_the_minute(make_user, make_event, queued_tasks):
    soon = make_event(opens_in=timedelta(seconds=3), waiting_room=timedelta(minutes=-5))
    later = make_event(opens_in=timedelta(minutes=5), waiting_room=timedelta(minutes=-5))
    empty = make_event(opens_in=timedelta(seconds=4), waiting_room=timedelta(minutes=-5))
    for event in (soon, later):
        vip = event.ticket_types.get(name="VIP")
        services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1)

    summary = tasks.sweep()

    assert summary["openings"] == [soon.pk]  # not the one opening later, nor one nobody waits for
    [(name, (until,))] = [q for q in queued_tasks if q[0] == "ticketing.tasks.open_sales"]
    assert tasks.sweep()["openings"] == [soon.pk]
    assert [q[0] for q in queued_tasks].count("ticketing.tasks.open_sales") == 1  # not twice
    queued_tasks.clear()
    cache.clear()

    woken = tasks.open_sales(until)

    assert woken == [soon.pk]
    assert timezone.now() >= soon.sale_opens_at  # it slept until the opening
    assert queued_tasks == [("ticketing.tasks.drain_event", (soon.pk,))]
    assert empty.pk not in woken
