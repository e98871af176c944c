"""When a buyer watching their place should ask again: the server decides, the client obeys.

A crowd that polls at a fixed rate polls in step and mostly learns nothing. As Cloudflare's
waiting room does (refreshIntervalSeconds), EventTix tells each client when to come back, from
where its request stands: about every second near the front of a moving queue, up to about 20 s
far back (10 s on a waiting list), with jitter so that thousands of browsers spread out rather than
ask in step. The waiting room is asked back after the opening in about the order of its draw, the
front first, at POLL_BUDGET_PER_S a second: each buyer comes back about when the drain reaches
them, and a room of thousands does not all ask in the second after the opening. The page's htmx trigger,
`poll_after_seconds` and the Retry-After header of `GET /api/queue/position` all carry this one
figure.

The site answers a poll at once only while the polls stay within what it can serve: however many
buyers are waiting, the intervals handed out (by scheduled()) fill each coming second of the site
with at most POLL_BUDGET_PER_S polls, and an interval whose second is full is moved to the next
second with room. A buyer's wait for news grows with the crowd; the answer to each poll does not.
"""

import math
import random
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from eventtix.cache import count_first_with_room
from ticketing.models import TicketRequest

FASTEST = 1.0
SLOWEST = 20.0
WAITING_LIST = 10.0
JITTER = 0.2  # each interval is spread by ±20 %
# The waiting room comes back from 1 s after the opening (the draw is made then), in the order of
# the draw at settings.EVENTTIX_POLL_BUDGET_PER_S a second, each spread by up to RETURN_JITTER,
# and none later than LATEST_RETURN after the opening.
RETURN_JITTER = 2.0
LATEST_RETURN = 30.0
# A full second moves a poll to the next second with room: tried 1, 2, 4... seconds further on.
SLOT_TRIES = 6
SLOT_KEEP_S = 180  # a second's count outlives the furthest interval handed out (under two minutes)


def poll_after(position, *, event, now, rng=random) -> float | None:
    """Seconds until the client should ask again; None once the request is decided."""
    if position.status == TicketRequest.Status.WAITING:
        base = WAITING_LIST
    elif position.status != TicketRequest.Status.QUEUED:
        return None
    elif position.waiting_room:
        until_open = (event.sale_opens_at - now).total_seconds()
        if until_open <= 0:
            base = 2.0  # open, and the draw is being made
        elif until_open > SLOWEST:
            base = SLOWEST  # far off: about every SLOWEST seconds, for the countdown
        else:
            return round(until_open + returning_after_opening(position, rng=rng), 1)
    elif position.eta_seconds is not None:
        if (position.ahead or 0) < settings.EVENTTIX_DRAIN_BATCH_SIZE:
            # In the drain's next batch: decided as soon as it runs. (The ETA comes from the recent
            # serving rate, which on a quiet sale is the arrivals', far slower than the drain.)
            base = FASTEST
        else:
            # A quarter of the expected wait: the place shown never lags far behind the queue.
            base = position.eta_seconds / 4
    else:
        # No serving rate measured yet (the sale has just opened, or the drain has not started).
        base = 2.0 if (position.ahead or 0) < 1000 else 5.0
    base = min(SLOWEST, max(FASTEST, base))
    return round(max(FASTEST, base * rng.uniform(1 - JITTER, 1 + JITTER)), 1)


def returning_after_opening(position, *, rng=random) -> float:
    """Seconds after the opening a waiting-room request should ask for the place it was drawn.

    The drain serves the room in the order of the draw, so the front is decided first; asking
    back in about that order (drawn_ahead, an estimate), at the poll budget, brings each buyer
    back near when their answer is ready, and keeps the room's return to a rate the server answers
    at once (bench: the crowd). The room that is there when asked; late arrivals come back a
    little early, which costs a poll, not a place.
    """
    paced = (position.drawn_ahead or 0) / settings.EVENTTIX_POLL_BUDGET_PER_S
    return 1.0 + min(LATEST_RETURN, paced) + rng.uniform(0, RETURN_JITTER)


def scheduled(seconds: float, *, at=None, rng=random) -> float:
    """`seconds`, or later: the first second from then on in which the site's polls are within
    POLL_BUDGET_PER_S, counting this one there.

    Each second's polls are counted in the cache, the seconds tried in one round trip however many
    are full. With Redis unreachable the count is each server process's own, so the site takes up
    to its number of processes times the budget: looser, never closed.
    """
    now = time.time() if at is None else at
    # The moments tried, in turn: the one asked for, then 1, 2, 4... seconds past each full one.
    # Past the last, the poll goes uncounted to one more step on.
    moments, step = [now + seconds], 1
    for _ in range(SLOT_TRIES):
        moments.append(math.floor(moments[-1]) + step + rng.random())
        step *= 2
    keys = [f"poll-slot:{math.floor(moment)}" for moment in moments[:SLOT_TRIES]]
    place = count_first_with_room(cache, keys, most=settings.EVENTTIX_POLL_BUDGET_PER_S, timeout=SLOT_KEEP_S)
    when = moments[SLOT_TRIES if place is None else place]
    return round(max(FASTEST, when - now), 1)


def hint(position, *, event, now=None):
    """Set position.poll_after_seconds; return the Retry-After header's value (or None)."""
    seconds = poll_after(position, event=event, now=now or timezone.now())
    position.poll_after_seconds = None if seconds is None else scheduled(seconds)
    if position.poll_after_seconds is None:
        return None
    return str(math.ceil(position.poll_after_seconds))
