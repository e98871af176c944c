"""Admitting a ticket at the door."""

from django.db import transaction
from django.utils import timezone

from ticketing import errors
from ticketing.models import AuditEntry, Ticket

CHECK_IN_PERMISSION = "ticketing.check_in_ticket"


def can_check_in(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(CHECK_IN_PERMISSION))


@transaction.atomic
def check_in_ticket(*, qr_token: str, staff_user) -> Ticket:
    """Admit the ticket once; any later scan raises AlreadyCheckedIn."""
    if not can_check_in(staff_user):
        raise errors.NotAllowed("Only door staff can check tickets in.")
    now = timezone.now()
    # A conditional update, not read-then-write: of many simultaneous scans exactly one matches.
    admitted = Ticket.objects.filter(qr_token=qr_token, checked_in_at__isnull=True).update(
        checked_in_at=now, checked_in_by=staff_user
    )
    ticket = (
        Ticket.objects.select_related("ticket_type__event", "order__user", "checked_in_by")
        .filter(qr_token=qr_token)
        .first()
    )
    if ticket is None:
        raise errors.NotFound("Unknown ticket: this code is not one of ours.")
    if not admitted:
        raise errors.AlreadyCheckedIn(ticket)
    AuditEntry.objects.create(
        kind=AuditEntry.Kind.CHECKED_IN,
        event_id=ticket.ticket_type.event_id,
        ticket_type_id=ticket.ticket_type_id,
        request_id=ticket.order.request_id,
        order_id=ticket.order_id,
        ticket=ticket,
        user_id=staff_user.pk,
        quantity=1,
    )
    return ticket
