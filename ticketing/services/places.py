"""Places in an event's queue: arrival numbers, the waiting-room draw, and the counters.

Within one event and priority every request holds a number, its place. Arrivals take the next
number from the QueueCounter row in the transaction that queues them: the row stays locked until
that transaction ends, so the numbers follow commit order and a rolled-back arrival leaves no
gap. The drain serves places in order and adds what it decided to the counter; requests that leave
out of turn (cancelled while queued, or put on the waiting list on arrival) add to it too. How
many are ahead of a request then follows from its number and the counters alone
(selectors.requests_ahead), however long the queue.

Arrivals in the waiting room (before the sale opens) also take numbers, and a random draw. When
the sale opens the drain, before it serves anyone, shares each priority's waiting-room numbers
out again in the order of the draws: a uniformly random order, ahead of everyone who arrived
after opening, that nobody can improve by arriving early.
"""

import secrets
from collections import defaultdict
from typing import NamedTuple

from django.db.models import F

from ticketing.models import QueueCounter, TicketRequest
from ticketing.services import fastpath

DRAW_SPAN = 2**62


def draw_for(*, event, now) -> int | None:
    """A waiting-room arrival's random draw; None for an arrival once the sale is open."""
    return secrets.randbelow(DRAW_SPAN) if now < event.sale_opens_at else None


class Place(NamedTuple):
    number: int
    # Requests waiting ahead of it as it arrived: everyone still queued in its priority, since
    # it is the last of them, plus everyone still queued in a higher one.
    ahead: int


def count_left(*, event_id: int, by_priority: dict[int, int], how: str) -> None:
    """Record requests that left the queue: `how` is "decided" (in turn) or "skipped" (out of turn)."""
    assert how in ("decided", "skipped")
    for priority, n in sorted(by_priority.items()):
        QueueCounter.objects.filter(event_id=event_id, priority=priority).update(**{how: F(how) + n})


def place_waiting_room(*, event_id: int) -> int:
    """Give the waiting-room arrivals still queued their places in the order of their draws.

    Each priority's arrivals keep the set of numbers they took and share it out again, so the
    counters stay true. The drain calls this under the event's lock before each batch; it finds
    work once when the sale opens, and again only for an arrival that was still committing then.
    Returns how many requests were placed.
    """
    unplaced = TicketRequest.objects.filter(
        event_id=event_id, status=TicketRequest.Status.QUEUED, draw__isnull=False
    ).order_by()
    groups = defaultdict(list)
    for pk, priority, seq, draw in unplaced.values_list("pk", "priority", "seq", "draw"):
        groups[priority].append((draw, pk, seq))
    if not groups:
        return 0
    places = {}
    for group in groups.values():
        numbers = sorted(seq for _, _, seq in group)
        places.update(zip((pk for _, pk, _ in sorted(group)), numbers, strict=True))
    # Through negative numbers, so no two requests ever hold the same place mid-update.
    fastpath.set_column(TicketRequest, "seq", {pk: -seq for pk, seq in places.items()})
    fastpath.set_column(TicketRequest, "seq", places, clear="draw")
    return len(places)
