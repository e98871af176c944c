"""The ledger's moves at the door: an entry on a check-in list, an exit, an undone entry, an
offline entry of a ticket already admitted; and the codes the door reads: a ticket re-issued, an
event's signing key rotated.

As everywhere in the ledger (see __init__.py): called inside transaction.atomic, with the ticket's
row locked by the caller; each move writes its audit entry.
"""

from ticketing.models import AuditEntry, CheckIn, CheckInList, EventKey, Ticket, new_qr_token
from ticketing.services import fastpath
from ticketing.services.ledger import _audit, _order_refs

Kind = AuditEntry.Kind


def admit(
    *,
    ticket: Ticket,
    check_in_list: CheckInList,
    staff_id: int,
    scanned_at,
    nonce: str | None = None,
    device: str = "",
    offline: bool = False,
) -> CheckIn:
    """Record the entry of a ticket (locked by the caller, with its order) on a list where it has
    no active entry; its first admission anywhere marks it checked in and counts it."""
    entry = CheckIn.objects.create(
        check_in_list=check_in_list,
        ticket=ticket,
        kind=CheckIn.Kind.ENTRY,
        active=True,
        scanned_at=scanned_at,
        by_id=staff_id,
        nonce=nonce,
        device=device,
        offline=offline,
    )
    if ticket.status == Ticket.Status.VALID:
        ticket.status, ticket.checked_in_at, ticket.checked_in_by_id = (
            Ticket.Status.CHECKED_IN,
            scanned_at,
            staff_id,
        )
        ticket.save(update_fields=["status", "checked_in_at", "checked_in_by"])
        fastpath.bump_type_counters({(ticket.ticket_type_id, ticket.order.event_id): {"checked_in": 1}})
    reason = check_in_list.name + (f" (offline, {device})" if offline else "")
    _door_audit(Kind.CHECKED_IN, ticket=ticket, staff_id=staff_id, reason=reason)
    return entry


def let_out(*, ticket: Ticket, entry: CheckIn, staff_id: int, now) -> CheckIn:
    """Record an exit through a list that allows re-entry: the ticket may enter on it again."""
    entry.active = False
    entry.save(update_fields=["active"])
    exit_scan = CheckIn.objects.create(
        check_in_list_id=entry.check_in_list_id,
        ticket=ticket,
        kind=CheckIn.Kind.EXIT,
        scanned_at=now,
        by_id=staff_id,
    )
    _door_audit(Kind.EXITED, ticket=ticket, staff_id=staff_id, reason=entry.check_in_list.name)
    return exit_scan


def undo_entry(*, ticket: Ticket, entry: CheckIn, staff_id: int, now, reason: str) -> None:
    """Undo a mistaken entry (the ticket locked by the caller): the ticket may enter on the list
    again, and a ticket left with no entry anywhere is valid, uncounted, again."""
    entry.active, entry.undone_at, entry.undone_by_id = False, now, staff_id
    entry.save(update_fields=["active", "undone_at", "undone_by"])
    others = CheckIn.objects.filter(ticket=ticket, kind=CheckIn.Kind.ENTRY, undone_at__isnull=True)
    if ticket.status == Ticket.Status.CHECKED_IN and not others.exists():
        ticket.status, ticket.checked_in_at, ticket.checked_in_by_id = Ticket.Status.VALID, None, None
        ticket.save(update_fields=["status", "checked_in_at", "checked_in_by"])
        fastpath.bump_type_counters({(ticket.ticket_type_id, ticket.order.event_id): {"checked_in": -1}})
    _door_audit(
        Kind.CHECK_IN_UNDONE, ticket=ticket, staff_id=staff_id, reason=f"{entry.check_in_list.name}: {reason}"
    )


def _door_audit(kind: str, *, ticket: Ticket, staff_id: int, reason: str) -> None:
    # The entry's user is the door staff member, as the CSV has always had it for check-ins.
    refs = {**_order_refs(ticket.order), "user_id": staff_id}
    _audit(kind, **refs, ticket_id=ticket.pk, quantity=1, reason=reason[:200])


def record_duplicate(
    *, ticket: Ticket, first: CheckIn, staff_id: int, scanned_at, nonce: str, device: str
) -> CheckIn:
    """Record an offline entry of a ticket (locked by the caller) that another scan had already
    admitted on the list: the guest is in twice; the entry stays inactive and names the first."""
    duplicate = CheckIn.objects.create(
        check_in_list_id=first.check_in_list_id,
        ticket=ticket,
        kind=CheckIn.Kind.ENTRY,
        active=False,
        scanned_at=scanned_at,
        by_id=staff_id,
        nonce=nonce,
        device=device,
        offline=True,
        duplicate_of=first,
    )
    first_at = f"{first.scanned_at:%Y-%m-%d %H:%M:%S}"
    reason = f"{first.check_in_list.name} (offline, {device}); first admitted at {first_at}"
    _door_audit(Kind.ADMITTED_TWICE, ticket=ticket, staff_id=staff_id, reason=reason)
    return duplicate


def reissue_ticket(*, ticket: Ticket, actor_id: int | None, reason: str) -> None:
    """Give a ticket (locked by the caller, with its order) a new version and a new random code:
    every code it had before stops admitting."""
    ticket.version += 1
    ticket.qr_token = new_qr_token()
    ticket.save(update_fields=["version", "qr_token"])
    refs = {**_order_refs(ticket.order), "actor_id": actor_id}
    _audit(Kind.TICKET_REISSUED, **refs, ticket_id=ticket.pk, quantity=1, reason=reason[:200])


def key_rotated(
    *, event_id: int, old: EventKey | None, private_key: bytes, public_key: bytes, actor_id, now, reason: str
) -> EventKey:
    """Retire an event's active key (its row locked by the caller, with the event's) and put a new
    one in its place: every signed code of the event changes."""
    if old is not None:
        old.retired_at = now
        old.save(update_fields=["retired_at"])
    key = EventKey.objects.create(event_id=event_id, private_key=private_key, public_key=public_key)
    names = f"key #{old.pk if old is not None else '-'} to #{key.pk}"
    _audit(Kind.KEY_ROTATED, event_id=event_id, actor_id=actor_id, reason=f"{names}: {reason}"[:200])
    return key
