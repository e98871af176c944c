"""Waking the cluster when there is queue work, without one task per request."""

from django.core.cache import cache
from django.utils import timezone
from django_q.tasks import async_task

# Seconds a pending wake-up suppresses others. The drain clears the key when it starts, so
# this only matters when a task is lost (Redis broker crash): then the next request after it
# expires wakes the cluster again, and the minute sweep serves anything left before that.
WAKE_TTL = 10


def _key(event_id: int) -> str:
    return f"drain-pending:{event_id}"


def request_drain(event_id: int) -> bool:
    """Queue a drain of the event unless one is already queued; True when one was queued."""
    if not cache.add(_key(event_id), 1, timeout=WAKE_TTL):
        return False
    async_task("ticketing.tasks.drain_event", event_id, group="drain")
    return True


def drain_started(event_id: int) -> None:
    """Let the next request wake the cluster again; called as a drain task begins."""
    cache.delete(_key(event_id))


def wake_if_unplaced(ticket_request, *, now=None) -> bool:
    """Ask for a drain when a waiting-room request is still unplaced after its sale opened.

    The first drain batch after the opening draws the waiting room's places (services.places);
    until a buyer joins after the opening, nothing else would wake the cluster before the minute
    sweep. A buyer polling their place is that signal. Coalesced like every wake-up.
    """
    if ticket_request.status != ticket_request.Status.QUEUED or ticket_request.draw is None:
        return False
    if ticket_request.event.sale_state(now or timezone.now()).before_opening:
        return False
    return request_drain(ticket_request.event_id)


def request_emails() -> bool:
    """Queue a run of the outbox sender unless one is already queued; True when one was queued."""
    if not cache.add("emails-pending", 1, timeout=WAKE_TTL):
        return False
    async_task("ticketing.tasks.send_emails", group="email")
    return True


def emails_started() -> None:
    cache.delete("emails-pending")
