"""Joining and leaving an event's queue and a ticket type's waiting list."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from events import formatting
from events.models import Event, SaleState
from ticketing import errors
from ticketing.models import TicketRequest
from ticketing.services import fastqueue, ledger, limits, places

Status = TicketRequest.Status


def tickets_on_sale(ticket_type) -> int:
    """Tickets a new request may take: none while anyone waits, since tickets that come back are
    held for the waiting list rather than put on sale again. (`ticket_type.waiting` is its count.)"""
    return 0 if ticket_type.waiting else ticket_type.remaining


def check_quantity(*, ticket_type, quantity: int) -> None:
    """Raise InvalidQuantity unless one request may ask for `quantity` tickets of the type."""
    if not 1 <= quantity <= ticket_type.max_per_request:
        raise errors.InvalidQuantity(
            _("You can ask for 1 to %(most)s %(type)s tickets at a time.")
            % {"most": ticket_type.max_per_request, "type": ticket_type.name}
        )


def check_can_request(*, event: Event, now) -> None:
    """Raise unless the event takes requests at this moment."""
    state = event.sale_state(now)
    if state == SaleState.UPCOMING:
        opens = formatting.moment(event.waiting_room_opens_at or event.sale_opens_at, event.time_zone)
        raise errors.SaleNotOpen(
            _("Tickets for %(event)s go on sale on %(when)s.") % {"event": event.name, "when": opens}
        )
    if state == SaleState.CANCELLED:
        raise errors.SaleClosed(_("%(event)s is cancelled.") % {"event": event.name})
    if state == SaleState.CLOSED:
        raise errors.SaleClosed(_("The sale for %(event)s has closed.") % {"event": event.name})


def enqueue_request(
    *,
    user,
    ticket_type_id: int,
    quantity: int,
    wait_if_sold_out: bool = False,
    idempotency_key: str | None = None,
    now=None,
) -> TicketRequest:
    """Put a buyer's request in the event's queue (or on the waiting list), or refuse it with a reason.

    `user` may be a User or simplejwt's TokenUser: only its pk is read. A repeated idempotency key
    returns the request it first created, or raises IdempotencyKeyReused if it asked for another.
    """
    now = now or timezone.now()
    asked = {"ticket_type_id": ticket_type_id, "quantity": quantity, "wait_if_sold_out": wait_if_sold_out}
    try:
        with transaction.atomic(durable=True):
            # One buyer's requests are serialized, so parallel requests cannot beat the limit.
            # The same statement checks the account is still active: the API authenticates
            # this call from its token alone, without reading the user.
            found, ticket_type, earlier = fastqueue.lock_buyer_and_read_type(
                user_id=user.pk, ticket_type_id=ticket_type_id, idempotency_key=idempotency_key or None
            )
            if not found:
                raise errors.AccountUnavailable()
            if earlier is not None:
                return _same_ask(earlier, asked)
            if ticket_type is None:
                raise errors.UnknownTicketType(
                    _("There is no ticket type with id %(id)s.") % {"id": ticket_type_id}
                )
            return _create_request(
                user=user, ticket_type=ticket_type, idempotency_key=idempotency_key, now=now, **asked
            )
    except IntegrityError:
        # The unique key constraint: a concurrent twin with the same key committed first (the
        # buyer's row lock serializes twins, so this is a twin that arrived without it, e.g. on
        # SQLite, whose lock is the whole database and is not held across the check).
        if idempotency_key:
            existing = _by_key(user_id=user.pk, key=idempotency_key, asked=asked)
            if existing is not None:
                return existing
        raise


def _by_key(*, user_id: int, key: str, asked: dict) -> TicketRequest | None:
    existing = TicketRequest.objects.filter(user_id=user_id, idempotency_key=key).first()
    return None if existing is None else _same_ask(existing, asked)


def _same_ask(existing: TicketRequest, asked: dict) -> TicketRequest:
    """The request an idempotency key first made, unless this call asks for something else."""
    if any(getattr(existing, name) != value for name, value in asked.items()):
        raise errors.IdempotencyKeyReused()
    return existing


def _create_request(
    *, user, ticket_type, quantity, wait_if_sold_out, idempotency_key, now, **unused
) -> TicketRequest:
    event = ticket_type.event
    check_can_request(event=event, now=now)
    check_quantity(ticket_type=ticket_type, quantity=quantity)
    remaining = tickets_on_sale(ticket_type)
    waiting = quantity > remaining
    if waiting and not wait_if_sold_out:
        if remaining <= 0:
            raise errors.SoldOut(
                _("%(type)s tickets for %(event)s are sold out.")
                % {"type": ticket_type.name, "event": event.name}
            )
        raise errors.SoldOut(
            _("Only %(left)s %(type)s tickets are left.") % {"left": remaining, "type": ticket_type.name}
        )
    ticket_request = TicketRequest(
        user_id=user.pk,
        event=event,
        ticket_type=ticket_type,
        priority=ticket_type.priority,
        quantity=quantity,
        unit_price=ticket_type.price,
        wait_if_sold_out=wait_if_sold_out,
        status=Status.WAITING if waiting else Status.QUEUED,
        skipped=waiting,
        draw=None if waiting else places.draw_for(event=event, now=now),
        idempotency_key=idempotency_key or None,
    )
    # Counted as the request is written, under the buyer's lock (one statement on PostgreSQL):
    # over the limit, nothing is written.
    place, held = ledger.add_request(
        ticket_request, most_held=limits.most_held_before(event=event, quantity=quantity)
    )
    limits.check_ticket_limit(event=event, held=held, quantity=quantity)
    # Everyone waiting for the type was there first; everyone still queued is ahead too.
    ticket_request.ahead_on_arrival = ticket_type.waiting if waiting else place.ahead
    return ticket_request


def cancel_request(*, user, request_id: int, now=None) -> TicketRequest:
    """Take the owner's request out of the queue or off the waiting list."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        found = ledger.lock_pending(TicketRequest.objects.filter(pk=request_id, user_id=user.pk))
        if not found:
            raise errors.NotFound(_("There is no such ticket request."))
        [pending] = found
        if pending.status not in TicketRequest.PENDING:
            raise errors.NotCancellable(
                _("This request was already %(status)s; it can no longer be cancelled.")
                % {"status": str(Status(pending.status).label).lower()}
            )
        ledger.move_requests(
            moves=[ledger.Move(pending, Status.CANCELLED, TicketRequest.Reason.BY_BUYER)],
            now=now,
            in_turn=False,
        )
    return TicketRequest.objects.get(pk=request_id)


def cancel_requests_of_inactive_buyers(*, now=None) -> int:
    """Cancel the queued and waiting requests of deactivated buyers; return how many.

    The drain cancels such a request when it reaches it; this, run by the minute sweep, also
    takes off the waiting lists those that no ticket may come back for.
    """
    now = now or timezone.now()
    pending = TicketRequest.objects.filter(status__in=TicketRequest.PENDING, user__is_active=False)
    cancelled = 0
    for event_id in sorted(set(pending.values_list("event_id", flat=True))):
        with transaction.atomic(durable=True):
            # The event first, as every writer locks (services/ledger).
            Event.objects.select_for_update(no_key=True).filter(pk=event_id).first()
            reason = TicketRequest.Reason.ACCOUNT_DEACTIVATED
            rows = ledger.lock_pending(pending.filter(event_id=event_id).order_by("pk"))
            moves = [ledger.Move(r, Status.CANCELLED, reason) for r in rows]
            ledger.move_requests(moves=moves, now=now, in_turn=False)
            cancelled += len(moves)
    return cancelled
