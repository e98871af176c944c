"""django-q2 tasks: each takes primary keys and calls one service."""

import logging
import time
from datetime import datetime, timedelta

from django.db import OperationalError
from django.utils import timezone

from eventtix.db import is_busy
from ticketing import selectors, services
from ticketing.services import wakeups

log = logging.getLogger(__name__)


def drain_event(event_id: int) -> dict:
    """Serve one event's queue; queued by wake-ups after a request commits."""
    wakeups.drain_started(event_id)
    try:
        result = services.drain_event_queue(event_id=event_id)
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        # A lock it waited on was held too long (a stalled transaction): the batch rolled back,
        # and a new drain serves it once the holder is gone (ended by the database's time-outs).
        log.warning("drain of event %s gave up waiting for a lock; queued again: %s", event_id, exc)
        services.request_drain(event_id)
        return {"busy": True}
    if result.more:
        services.request_drain(event_id)
    services.flush_transactions_csv()
    return result.__dict__


def send_emails() -> int:
    """Send what the outbox owes; queued by wake-ups after a change that owes an email commits.

    One sender at a time (wakeups.sending_emails): on sale day thousands of confirmations, each
    with its PDF, would otherwise take every worker of the cluster and leave none for the drain.
    """
    wakeups.emails_started()
    with wakeups.sending_emails() as sender:
        if not sender.alone:
            return 0  # the sender at work checks for more before it stops (below)
        sent, more = services.send_owed_emails(before_each=sender.renew)
    if more or services.emails_owed():
        wakeups.request_emails()
    return sent


# How far ahead the sweep looks for sale openings: its own period.
OPENING_LOOKAHEAD = timedelta(seconds=60)


def sweep() -> dict:
    """Every minute: ask for a drain of each event with work (whatever a lost wake-up left),
    wake the drain at the sales opening in the next minute, ask for owed emails to be sent, catch
    the CSV up. It does none of that work itself, so it holds a worker for moments only."""
    now = timezone.now()
    services.cancel_requests_of_inactive_buyers(now=now)
    drains = [e for e in services.events_with_work() if services.request_drain(e, force=True)]
    openings = selectors.sales_opening(after=now, until=now + OPENING_LOOKAHEAD)
    if openings:
        wakeups.request_openings(until=now + OPENING_LOOKAHEAD)
    emails = services.emails_owed() and wakeups.request_emails(force=True)
    logged = services.flush_transactions_csv()
    return {"drains": drains, "openings": [e for e, _ in openings], "emails": emails, "csv_rows": logged}


def open_sales(until: str) -> list[int]:
    """Wake the drain at each sale opening up to `until` (within the minute after a sweep).

    A waiting room is drawn by the first drain after its opening; without this, that would wait
    for a buyer's poll or the next sweep. One task sleeps for all of a minute's openings, so at
    most one worker waits.
    """
    woken, until = [], datetime.fromisoformat(until)
    while True:
        now = timezone.now()
        due = selectors.sales_opening(after=now - OPENING_LOOKAHEAD, until=until)
        due = [(e, opens) for e, opens in due if e not in woken]
        if not due:
            return woken
        event_id, opens = due[0]
        time.sleep(max(0.0, (opens - now).total_seconds()))
        services.request_drain(event_id, force=True)
        woken.append(event_id)
