"""When a buyer watching their place should ask again: the server decides, the client obeys.

A crowd that polls at a fixed rate polls in step and mostly learns nothing. As Cloudflare's
waiting room does (refreshIntervalSeconds), EventTix tells each client when to come back, from
where its request stands: about every second near the front of a moving queue and around the
opening, up to about 20 s far back (10 s on a waiting list), with jitter so that thousands of
browsers spread out. The page's htmx trigger, `poll_after_seconds` and the Retry-After header of
`GET /api/queue/position` all carry this one figure.
"""

import math
import random

from django.utils import timezone

from ticketing.models import TicketRequest

FASTEST = 1.0
SLOWEST = 20.0
WAITING_LIST = 10.0
JITTER = 0.2  # each interval is spread by ±20 %
# Before the sale opens, the page is asked to come back this many times before the opening.
APPROACH_STEPS = 3


def poll_after(position, *, event, now, rng=random) -> float | None:
    """Seconds until the client should ask again; None once the request is decided."""
    if position.status == TicketRequest.Status.WAITING:
        base = WAITING_LIST
    elif position.status != TicketRequest.Status.QUEUED:
        return None
    elif position.waiting_room:
        # Before the opening: come back a few times as it nears, so the draw is seen at once.
        until_open = (event.sale_opens_at - now).total_seconds()
        base = until_open / APPROACH_STEPS if until_open > 0 else 2.0
    elif position.eta_seconds is not None:
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
