"""The door: admitting tickets on an event's check-in lists, letting them out, undoing mistakes.

Every scan of a ticket locks its row first, so scans of one ticket (and its cancellation) take
turns: of many simultaneous scans on one list exactly one admits it, and the unique constraint on
active entries (models/door.py) backs that up. A refused scan writes nothing.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events import formatting
from events.models import Event
from ticketing import errors
from ticketing.models import CheckIn, CheckInList, Ticket
from ticketing.services import ledger, signing

CHECK_IN_PERMISSION = "ticketing.check_in_ticket"
FIX_PERMISSION = "ticketing.fix_check_ins"
DEFAULT_LIST_NAME = "Main entrance"
UNKNOWN_TICKET = gettext_lazy("Unknown ticket: this code is not one of ours.")


def can_check_in(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(CHECK_IN_PERMISSION))


def can_fix_check_ins(user) -> bool:
    """Undo a check-in, or check a guest in by name: door supervisors."""
    return can_check_in(user) and user.has_perm(FIX_PERMISSION)


def may_use_list(user, check_in_list: CheckInList) -> bool:
    """Door staff may scan on a list that names no staff, or names them."""
    if not can_check_in(user):
        return False
    return not check_in_list.staff.exists() or check_in_list.staff.filter(pk=user.pk).exists()


def default_list(event) -> CheckInList:
    """The event's default check-in list, made the first time it is asked for."""
    found = CheckInList.objects.filter(event=event, is_default=True).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return CheckInList.objects.create(event=event, is_default=True, name=DEFAULT_LIST_NAME)
    except IntegrityError:  # made at the same moment by another request
        return CheckInList.objects.get(event=event, is_default=True)


def open_default_lists(*, now) -> None:
    """Give each event the door may see (not cancelled, from a day ago on) its default list."""
    events = Event.objects.filter(cancelled_at__isnull=True, starts_at__gte=now - timedelta(days=1))
    for event in events.exclude(check_in_lists__is_default=True):
        default_list(event)


def check_in_ticket(*, qr_token: str, staff_user, check_in_list_id: int | None = None, now=None) -> Ticket:
    """Admit the ticket with this QR code (signed or random) on a list (by default its own event's
    default list).

    Returns the ticket, its entry as `ticket.admission`. Refusals, each writing nothing: NotFound,
    BadSignature, TicketReissued, WrongEvent, TicketCancelled, NotOnList, AlreadyCheckedIn, NotAllowed.
    """
    return _admit(qr_token, staff_user=staff_user, check_in_list_id=check_in_list_id, now=now)


def check_in_ticket_by_id(*, ticket_id: int, staff_user, check_in_list_id: int, now=None) -> Ticket:
    """As check_in_ticket, for a ticket found by its holder's name (a lost phone): supervisors only."""
    if not can_fix_check_ins(staff_user):
        raise errors.NotAllowed(_("Only door supervisors can check a guest in by name."))
    return _admit(Q(pk=ticket_id), staff_user=staff_user, check_in_list_id=check_in_list_id, now=now)


def let_out(*, qr_token: str, staff_user, check_in_list_id: int, now=None) -> Ticket:
    """Record an exit on a list that allows re-entry, so the ticket may enter again."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        check_in_list = _usable_list(staff_user, check_in_list_id)
        if not check_in_list.allow_reentry:
            raise errors.TicketingError(
                _("%(name)s does not allow re-entry: no exit to record.") % {"name": check_in_list.name}
            )
        ticket = _locked_ticket(qr_token, check_in_list)
        entry = _active_entry(ticket, check_in_list)
        if entry is None:
            raise errors.NotInside()
        ledger.let_out(ticket=ticket, entry=entry, staff_id=staff_user.pk, now=now)
    return ticket


def undo_check_in(*, ticket_id: int, staff_user, check_in_list_id: int, reason: str = "", now=None) -> Ticket:
    """Undo a mistaken admission on a list; needs the undo permission."""
    now = now or timezone.now()
    if not can_fix_check_ins(staff_user):
        raise errors.NotAllowed(_("Only door supervisors can undo a check-in."))
    with transaction.atomic(durable=True):
        check_in_list = _usable_list(staff_user, check_in_list_id)
        ticket = _locked_ticket(Q(pk=ticket_id), check_in_list)
        entry = _active_entry(ticket, check_in_list)
        if entry is None:
            raise errors.NotInside()
        ledger.undo_entry(
            ticket=ticket, entry=entry, staff_id=staff_user.pk, now=now, reason=reason or "undone at the door"
        )
    return ticket


def _admit(locator: Q | str, *, staff_user, check_in_list_id, now) -> Ticket:
    now = now or timezone.now()
    if not can_check_in(staff_user):
        raise errors.NotAllowed(_("Only door staff can check tickets in."))
    with transaction.atomic(durable=True):
        if check_in_list_id is None:
            ticket = _lock(locator)
            check_in_list = default_list(ticket.ticket_type.event)
        else:
            check_in_list = _usable_list(staff_user, check_in_list_id)
            ticket = _locked_ticket(locator, check_in_list)
        _admissible(ticket, check_in_list)
        entry = _active_entry(ticket, check_in_list)
        if entry is not None:
            raise errors.AlreadyCheckedIn(ticket, entry)
        ticket.admission = ledger.admit(
            ticket=ticket, check_in_list=check_in_list, staff_id=staff_user.pk, scanned_at=now
        )
    return ticket


def _admissible(ticket: Ticket, check_in_list: CheckInList) -> None:
    """Raise unless the list may admit the ticket at all (whether it is in already aside)."""
    if ticket.status == Ticket.Status.CANCELLED:
        raise errors.TicketCancelled()
    types = set(check_in_list.ticket_types.values_list("pk", flat=True))
    if types and ticket.ticket_type_id not in types:
        raise errors.NotOnList(
            _("%(type)s tickets are not admitted on %(list)s.")
            % {"type": ticket.ticket_type.name, "list": check_in_list.name}
        )


def usable_list(*, staff_user, check_in_list_id: int) -> CheckInList:
    """The list, if this member of door staff may use it (NotFound, NotAllowed)."""
    if not can_check_in(staff_user):
        raise errors.NotAllowed(_("Only door staff can check tickets in."))
    return _usable_list(staff_user, check_in_list_id)


def _usable_list(staff_user, check_in_list_id) -> CheckInList:
    check_in_list = CheckInList.objects.select_related("event").filter(pk=check_in_list_id).first()
    if check_in_list is None:
        raise errors.NotFound(_("There is no such check-in list."))
    if not may_use_list(staff_user, check_in_list):
        raise errors.NotAllowed(
            _("You are not on the door staff of %(name)s.") % {"name": check_in_list.name}
        )
    return check_in_list


def _lock(locator: Q | str) -> Ticket:
    """The ticket's row, locked until the transaction ends, with what the door shows of it.

    `locator` finds it by id, or is a scanned code (signing.locator_for): a signed code of an
    older version of the ticket is refused, with the row read but nothing written.
    """
    found = signing.locator_for(locator) if isinstance(locator, str) else signing.Locator(locator, None)
    ticket = (
        Ticket.objects.select_for_update(no_key=True, of=("self",))
        .select_related("order__user", "ticket_type__event")
        .filter(found.where)
        .first()
    )
    if ticket is None:
        raise errors.NotFound(UNKNOWN_TICKET)
    if not found.current(ticket):
        raise errors.TicketReissued()
    return ticket


def _locked_ticket(locator: Q | str, check_in_list: CheckInList) -> Ticket:
    ticket = _lock(locator)
    if ticket.ticket_type.event_id != check_in_list.event_id:
        raise errors.WrongEvent(ticket)
    return ticket


def _active_entry(ticket: Ticket, check_in_list: CheckInList) -> CheckIn | None:
    return (
        CheckIn.objects.select_related("by", "check_in_list")
        .filter(check_in_list=check_in_list, ticket=ticket, active=True)
        .first()
    )


# Offline: scans a phone made without a network, uploaded when it is back.


@dataclass
class OfflineVerdict:
    """The server's verdict on one uploaded scan: `verdict` is "admitted", "admitted_twice" (another
    scan had admitted the ticket on this list first: `first` says when, by whom, on which device),
    or the code of the refusal the door would have given online (the guest is in all the same)."""

    nonce: str
    verdict: str
    detail: str
    ticket_id: int | None = None
    first: CheckIn | None = None


def record_offline_scans(
    *, check_in_list_id: int, staff_user, device: str, scans: list[dict], now=None
) -> list:
    """Record the entries a device admitted offline ({nonce, code, scanned_at} each), in order.

    Each scan is its own transaction, judged as an online scan would be when it is recorded. A
    nonce already recorded records nothing and answers its verdict again, so an upload retried
    after a lost answer never counts twice. A scan's time is the device's, never later than now.
    """
    now = now or timezone.now()
    if not can_check_in(staff_user):
        raise errors.NotAllowed(_("Only door staff can check tickets in."))
    check_in_list = _usable_list(staff_user, check_in_list_id)
    return [_record_offline(check_in_list, staff_user, device, scan, now) for scan in scans]


def _record_offline(check_in_list, staff_user, device, scan, now) -> OfflineVerdict:
    nonce = scan["nonce"]
    known = _recorded(nonce)
    if known is not None:
        return known
    scanned_at = min(scan["scanned_at"], now)
    try:
        with transaction.atomic(durable=True):
            ticket = _locked_ticket(scan["code"], check_in_list)
            _admissible(ticket, check_in_list)
            first = _active_entry(ticket, check_in_list)
            if first is not None:
                ledger.record_duplicate(
                    ticket=ticket,
                    first=first,
                    staff_id=staff_user.pk,
                    scanned_at=scanned_at,
                    nonce=nonce,
                    device=device,
                )
            else:
                ledger.admit(
                    ticket=ticket,
                    check_in_list=check_in_list,
                    staff_id=staff_user.pk,
                    scanned_at=scanned_at,
                    nonce=nonce,
                    device=device,
                    offline=True,
                )
    except errors.TicketingError as exc:
        return OfflineVerdict(nonce, exc.code, exc.message)
    except IntegrityError:
        # The same nonce, uploaded at the same moment by a retry that won: its verdict stands.
        return _recorded(nonce)
    return _recorded(nonce)


def _recorded(nonce: str) -> OfflineVerdict | None:
    scan = (
        CheckIn.objects.select_related("duplicate_of__by", "duplicate_of__check_in_list__event")
        .filter(nonce=nonce)
        .first()
    )
    if scan is None:
        return None
    first = scan.duplicate_of
    if first is None:
        return OfflineVerdict(nonce, "admitted", _("Admitted."), scan.ticket_id)
    facts = {
        "when": formatting.time_of_day(first.scanned_at, first.check_in_list.event.time_zone),
        "who": first.by.name if first.by else "",
        "device": first.device,
        "list": first.check_in_list.name,
    }
    if first.by and first.device:
        detail = _("Admitted twice: first at %(when)s by %(who)s (%(device)s) on %(list)s.") % facts
    elif first.by:
        detail = _("Admitted twice: first at %(when)s by %(who)s on %(list)s.") % facts
    elif first.device:
        detail = _("Admitted twice: first at %(when)s (%(device)s) on %(list)s.") % facts
    else:
        detail = _("Admitted twice: first at %(when)s on %(list)s.") % facts
    return OfflineVerdict(nonce, "admitted_twice", detail, scan.ticket_id, first)
