"""django-q2 tasks: each takes primary keys and calls one service."""

from ticketing import services
from ticketing.services import wakeups


def drain_event(event_id: int) -> dict:
    """Serve one event's queue; queued by wake-ups after a request commits."""
    wakeups.drain_started(event_id)
    result = services.drain_event_queue(event_id=event_id)
    if result.more:
        services.request_drain(event_id)
    services.flush_transactions_csv()
    return result.__dict__


def send_emails() -> int:
    """Send what the outbox owes; queued by wake-ups after a change that owes an email commits."""
    wakeups.emails_started()
    return _send_owed_emails()


def _send_owed_emails() -> int:
    sent, more = services.send_owed_emails()
    if more:
        wakeups.request_emails()
    return sent


def sweep() -> dict:
    """Serve whatever a lost wake-up left behind, send owed emails, catch the CSV log up; every minute."""
    services.cancel_requests_of_inactive_buyers()
    results = services.drain_due_queues()
    sent = _send_owed_emails()
    logged = services.flush_transactions_csv()
    return {"events": {k: v.__dict__ for k, v in results.items()}, "emails": sent, "csv_rows": logged}
