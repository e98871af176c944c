"""Admitting a ticket at the door."""

from django.db import transaction
from django.utils import timezone

from ticketing import errors
from ticketing.models import Ticket
from ticketing.services import ledger

CHECK_IN_PERMISSION = "ticketing.check_in_ticket"


def can_check_in(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(CHECK_IN_PERMISSION))


def check_in_ticket(*, qr_token: str, staff_user) -> Ticket:
    """Admit the ticket once; a later scan raises AlreadyCheckedIn, a cancelled ticket TicketCancelled."""
    if not can_check_in(staff_user):
        raise errors.NotAllowed("Only door staff can check tickets in.")
    with transaction.atomic(durable=True):
        ticket_id = Ticket.objects.filter(qr_token=qr_token).values_list("pk", flat=True).first()
        if ticket_id is None:
            raise errors.NotFound("Unknown ticket: this code is not one of ours.")
        # A conditional update, not read-then-write: of many simultaneous scans exactly one wins.
        admitted = ledger.check_in(ticket_id=ticket_id, staff_id=staff_user.pk, now=timezone.now())
    ticket = Ticket.objects.select_related("ticket_type__event", "order__user", "checked_in_by").get(
        pk=ticket_id
    )
    if not admitted:
        if ticket.status == Ticket.Status.CANCELLED:
            raise errors.TicketCancelled()
        raise errors.AlreadyCheckedIn(ticket)
    return ticket
