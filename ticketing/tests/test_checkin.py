"""Admitting tickets at the door, once."""

import pytest

from ticketing import errors, services
from ticketing.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_first_scan_admits_and_is_audited(ticket, door_staff):
    admitted = services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    assert admitted.checked_in_at is not None and admitted.checked_in_by == door_staff
    assert admitted.status == "checked_in"
    entry = AuditEntry.objects.get(kind="checked_in")
    assert (entry.ticket_id, entry.user_id) == (ticket.pk, door_staff.pk)


def test_second_scan_is_refused_saying_when(ticket, door_staff):
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    with pytest.raises(errors.AlreadyCheckedIn, match="Already checked in at"):
        services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    assert AuditEntry.objects.filter(kind="checked_in").count() == 1


def test_unknown_code_is_refused(door_staff, ticket):
    with pytest.raises(errors.NotFound, match="Unknown ticket"):
        services.check_in_ticket(qr_token="not-a-ticket", staff_user=door_staff)


def test_buyers_cannot_check_in(ticket, buyer):
    with pytest.raises(errors.NotAllowed):
        services.check_in_ticket(qr_token=ticket.qr_token, staff_user=buyer)
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


def test_superusers_can_check_in(ticket, admin_user):
    assert services.check_in_ticket(qr_token=ticket.qr_token, staff_user=admin_user).checked_in_at
