"""When a buyer watching their place should ask again: the server decides, the client obeys.

A crowd that polls at a fixed rate polls in step and mostly learns nothing. As Cloudflare's
waiting room does (refreshIntervalSeconds), EventTix tells each client when to come back, from
where its request stands: about every second near the front of a moving queue, up to about 20 s
far back (10 s on a waiting list), the waiting room just after the opening, with jitter so that
thousands of browsers spread out rather than ask in step. The page's htmx trigger,
`poll_after_seconds` and the Retry-After header of `GET /api/queue/position` all carry this one
figure.
"""

import math
import random

from django.conf import settings
from django.utils import timezone

from ticketing.models import TicketRequest

FASTEST = 1.0
SLOWEST = 20.0
WAITING_LIST = 10.0
JITTER = 0.2  # each interval is spread by ±20 %
# The waiting room comes back spread over this many seconds after the opening.
OPENING_SPREAD = 5.0


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
        else:
            # Come back just after the opening, once the draw is made, spread over a few seconds
            # so that the whole waiting room does not ask in the same instant (nor every second
            # while it waits); from further off, about every SLOWEST seconds.
            back = until_open + rng.uniform(1.0, 1.0 + OPENING_SPREAD)
            if back <= SLOWEST:
                return round(back, 1)
            base = SLOWEST
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


def hint(position, *, event, now=None):
    """Set position.poll_after_seconds; return the Retry-After header's value (or None)."""
    position.poll_after_seconds = poll_after(position, event=event, now=now or timezone.now())
    if position.poll_after_seconds is None:
        return None
    return str(math.ceil(position.poll_after_seconds))
