"""The ticketing rules: every write to the queue, orders and tickets goes through here.

Views, API views, management commands and tasks call these functions and nothing else.
"""

from ticketing.services.allocation import DrainResult, drain_due_queues, drain_event_queue
from ticketing.services.checkin import can_check_in, check_in_ticket
from ticketing.services.csvlog import flush_transactions_csv, read_transactions_csv
from ticketing.services.notifications import send_order_confirmations
from ticketing.services.queue import cancel_request, enqueue_request
from ticketing.services.wakeups import request_drain, wake_if_unplaced

__all__ = [
    "DrainResult",
    "can_check_in",
    "cancel_request",
    "check_in_ticket",
    "drain_due_queues",
    "drain_event_queue",
    "enqueue_request",
    "flush_transactions_csv",
    "read_transactions_csv",
    "request_drain",
    "send_order_confirmations",
    "wake_if_unplaced",
]
