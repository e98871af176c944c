"""The ticketing rules: every write to the queue, orders and tickets goes through here.

Views, API views, management commands and tasks call these functions and nothing else; the
services decide, and services.ledger is the only code that writes a state change.
"""

from ticketing.services.allocation import DrainResult, drain_due_queues, drain_event_queue, events_with_work
from ticketing.services.checkin import (
    can_check_in,
    can_fix_check_ins,
    check_in_ticket,
    check_in_ticket_by_id,
    default_list,
    let_out,
    may_use_list,
    open_default_lists,
    record_offline_scans,
    undo_check_in,
    usable_list,
)
from ticketing.services.csvlog import flush_transactions_csv
from ticketing.services.notifications import emails_owed, send_outbox, send_owed_emails
from ticketing.services.orders import (
    buyer_may_cancel,
    can_manage_orders,
    can_view_orders,
    cancel_event,
    cancel_order,
    record_refund,
)
from ticketing.services.polling import hint as poll_hint
from ticketing.services.queue import (
    cancel_request,
    cancel_requests_of_inactive_buyers,
    check_quantity,
    enqueue_request,
    tickets_on_sale,
)
from ticketing.services.wakeups import request_drain, wake_if_unplaced

__all__ = [
    "DrainResult",
    "buyer_may_cancel",
    "can_check_in",
    "can_fix_check_ins",
    "can_manage_orders",
    "can_view_orders",
    "cancel_event",
    "cancel_order",
    "cancel_request",
    "cancel_requests_of_inactive_buyers",
    "check_in_ticket",
    "check_quantity",
    "check_in_ticket_by_id",
    "default_list",
    "let_out",
    "may_use_list",
    "open_default_lists",
    "record_offline_scans",
    "undo_check_in",
    "usable_list",
    "drain_due_queues",
    "drain_event_queue",
    "events_with_work",
    "enqueue_request",
    "flush_transactions_csv",
    "record_refund",
    "poll_hint",
    "request_drain",
    "emails_owed",
    "send_outbox",
    "send_owed_emails",
    "tickets_on_sale",
    "wake_if_unplaced",
]
