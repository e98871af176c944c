"""Waking the cluster when there is queue work, without one task per request.

A wake-up is a hint, never a promise: if the cache or the broker fails, it is logged and dropped,
and the minute sweep (tasks.sweep) does what the lost task would have done. So a wake-up run after
a commit never turns a committed change into an error (the ledger registers them as robust
on-commit callbacks, and they catch broker faults themselves).
"""

import logging
from contextlib import contextmanager

from django.core.cache import cache
from django.utils import timezone
from django_q.tasks import async_task

log = logging.getLogger(__name__)

# Seconds a pending wake-up suppresses others. The drain clears the key when it starts, so
# this only matters when a task is lost (Redis broker crash): then the next request after it
# expires wakes the cluster again, and the minute sweep serves anything left before that.
WAKE_TTL = 10
# The opening task covers the minute after a sweep; the next sweep queues the next one.
OPENINGS_TTL = 50
# While Redis is down the cache is each process's own memory: the drain that clears a marker runs
# in another process and cannot reach it, so a marker there holds back wake-ups only this long.
LOCAL_WAKE_TTL = 1.0


def _key(event_id: int) -> str:
    return f"drain-pending:{event_id}"


def request_drain(event_id: int, *, force: bool = False) -> bool:
    """Queue a drain of the event unless one is already queued; True when one was queued.

    `force` (the sweep's) queues one even so: a marker may outlive a task the broker lost.
    """
    if not _claim(_key(event_id), force=force):
        return False
    return _queue("ticketing.tasks.drain_event", event_id, group="drain")


def request_openings(*, until) -> bool:
    """Queue the task that wakes the drain at each sale opening up to `until`, unless queued."""
    if not cache.add("openings-pending", 1, timeout=OPENINGS_TTL):
        return False
    return _queue("ticketing.tasks.open_sales", until.isoformat(), group="opening")


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


def request_emails(*, force: bool = False) -> bool:
    """Queue a run of the outbox sender unless one is already queued; True when one was queued.

    `force` (the sweep's) queues one even so, as for drains.
    """
    if not _claim("emails-pending", force=force):
        return False
    return _queue("ticketing.tasks.send_emails", group="email")


def emails_started() -> None:
    cache.delete("emails-pending")


# A sender renews its mark before each email, so a killed sender's mark lapses within this: one
# email (with its PDF) takes a small part of it. Were one ever slower, a second sender would start,
# which the outbox's claims make safe.
SENDING_TTL = 5


class EmailSender:
    def __init__(self):
        self.alone = cache.add("emails-sending", 1, timeout=SENDING_TTL)

    def renew(self) -> None:
        cache.touch("emails-sending", SENDING_TTL)


@contextmanager
def sending_emails():
    """An EmailSender whose `alone` says no other outbox sender is at work (this one now is).

    A mark in the cache: with Redis down it is each process's own, so two senders may then run
    at once, which the outbox's claims make safe (only slower for the drain).
    """
    sender = EmailSender()
    try:
        yield sender
    finally:
        if sender.alone:
            cache.delete("emails-sending")


def _claim(key: str, *, force: bool = False) -> bool:
    """Set a wake-up marker; False when one is already set (a wake-up is pending), unless `force`
    (the sweep's: a marker may outlive a task the broker lost), which sets it regardless."""
    if force:
        cache.set(key, 1, timeout=WAKE_TTL)
        return True
    if not cache.add(key, 1, timeout=WAKE_TTL):
        return False
    if not getattr(cache, "redis_available", True):
        cache.touch(key, LOCAL_WAKE_TTL)  # in this process's memory: see LOCAL_WAKE_TTL
    return True


def _queue(task: str, *args, group: str) -> bool:
    try:
        async_task(task, *args, group=group)
    except Exception:  # the broker (Redis, or the database) is down: the sweep will do it
        log.warning("could not queue %s%s; the minute sweep will do its work", task, args, exc_info=True)
        return False
    return True
