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


def sweep() -> dict:
    """Serve whatever a lost wake-up left behind and catch the CSV log up; runs every minute."""
    results = services.drain_due_queues()
    logged = services.flush_transactions_csv()
    return {"events": {k: v.__dict__ for k, v in results.items()}, "csv_rows": logged}


def send_order_confirmations(order_ids: list[int]) -> int:
    return services.send_order_confirmations(order_ids=order_ids)


def flush_transactions_csv() -> int:
    return services.flush_transactions_csv()
