"""The ticketing rules: every write to the queue, orders and tickets goes through here.

Views, API views, management commands and tasks call these functions and nothing else; the
services decide, and services.ledger is the only code that writes a state change.
"""

from ticketing.services.allocation import DrainResult, drain_due_queues, drain_event_queue
from ticketing.services.checkin import can_check_in, check_in_ticket
from ticketing.services.csvlog import flush_transactions_csv
from ticketing.services.notifications import send_outbox
from ticketing.services.orders import can_manage_orders, cancel_event, cancel_order, record_refund
from ticketing.services.queue import cancel_request, enqueue_request
from ticketing.services.wakeups import request_drain, wake_if_unplaced

__all__ = [
    "DrainResult",
    "can_check_in",
    "can_manage_orders",
    "cancel_event",
    "cancel_order",
    "cancel_request",
    "check_in_ticket",
    "drain_due_queues",
    "drain_event_queue",
    "enqueue_request",
    "flush_transactions_csv",
    "record_refund",
    "request_drain",
    "send_outbox",
    "wake_if_unplaced",
]
