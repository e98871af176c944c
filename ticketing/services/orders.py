"""After the sale: cancelling orders and tickets, recording refunds, cancelling an event."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from events import formatting
from events.models import Event
from ticketing import errors
from ticketing.models import Order, Ticket, TicketRequest
from ticketing.services import ledger

CANCEL_PERMISSION = "ticketing.cancel_order"
VIEW_PERMISSION = "ticketing.view_order"


def can_manage_orders(user) -> bool:
    """Staff who may cancel any order, cancel tickets, record refunds and cancel events."""
    return bool(user and user.is_authenticated and user.is_staff and user.has_perm(CANCEL_PERMISSION))


def can_view_orders(user) -> bool:
    """Staff who may see any order's page: read-only unless they may also manage orders."""
    return can_manage_orders(user) or bool(
        user and user.is_authenticated and user.is_staff and user.has_perm(VIEW_PERMISSION)
    )


def cancel_order(
    *,
    user,
    order_id: int,
    ticket_ids: list[int] | None = None,
    reason: str = "",
    refund: Decimal | None = None,
    now=None,
) -> Order:
    """Cancel an order's tickets, all still valid or those named, and give them back to the sale.

    Its buyer may until the event's cancellation deadline; staff always, and may record a refund
    with it. A checked-in ticket cannot be cancelled.
    """
    now = now or timezone.now()
    staff = can_manage_orders(user)
    if refund is not None and not staff:
        raise errors.NotAllowed(_("Only staff can record refunds."))
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or not (staff or order.user_id == user.pk):
            raise errors.NotFound(_("There is no such order."))
        event = Event.objects.get(pk=order.event_id)
        if not staff:
            _check_buyer_may_cancel(event=event, now=now)
        tickets = {t.pk: t for t in Ticket.objects.select_for_update().filter(order=order).order_by("pk")}
        chosen = _chosen_tickets(tickets=tickets, ticket_ids=ticket_ids)
        try:
            ledger.cancel_tickets(
                order=order,
                ticket_ids=chosen,
                now=now,
                reason=reason or ("by the buyer" if not staff else "by staff"),
                actor_id=user.pk if staff else None,
            )
        except ledger.CounterConflict as exc:
            raise errors.Busy() from exc
        if refund is not None:
            _refund(order=order, amount=refund, reason=reason, actor_id=user.pk)
    order.refresh_from_db()
    return order


def record_refund(*, user, order_id: int, amount: Decimal, reason: str = "") -> Order:
    """Record money given back on an order (moved outside EventTix); staff only."""
    if not can_manage_orders(user):
        raise errors.NotAllowed(_("Only staff can record refunds."))
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise errors.NotFound(_("There is no such order."))
        _refund(order=order, amount=amount, reason=reason, actor_id=user.pk)
    order.refresh_from_db()
    return order


def cancel_event(*, user, event_id: int, reason: str = "", now=None) -> Event:
    """Cancel an event: every queued or waiting request, every ticket not used yet; email every buyer."""
    if not can_manage_orders(user):
        raise errors.NotAllowed(_("Only staff can cancel an event."))
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        # NO KEY UPDATE, as the drain: arrivals inserting requests (a key share) are not blocked, and
        # one that commits after this runs is cancelled by the drain when it reaches it.
        event = Event.objects.select_for_update(no_key=True).filter(pk=event_id).first()
        if event is None:
            raise errors.NotFound(_("There is no such event."))
        if event.cancelled_at:
            raise errors.NotCancellable(_("%(name)s is already cancelled.") % {"name": event.name})
        pending = ledger.lock_pending(
            TicketRequest.objects.filter(event=event, status__in=TicketRequest.PENDING).order_by(
                "-priority", "seq"
            )
        )
        reason = TicketRequest.Reason.EVENT_CANCELLED
        moves = [ledger.Move(r, TicketRequest.Status.CANCELLED, reason) for r in pending]
        ledger.move_requests(moves=moves, now=now, in_turn=False, actor_id=user.pk)
        buyers = {m.request.user_id for m in moves}
        for order in Order.objects.select_for_update().filter(event=event).order_by("pk"):
            buyers.add(order.user_id)
            valid = list(order.tickets.filter(status=Ticket.Status.VALID).values_list("pk", flat=True))
            if valid:
                ledger.cancel_tickets(
                    order=order,
                    ticket_ids=valid,
                    now=now,
                    reason="event cancelled",
                    actor_id=user.pk,
                    notify=False,
                )
        ledger.mark_event_cancelled(
            event=event, now=now, reason=reason, actor_id=user.pk, buyer_ids=list(buyers)
        )
    return event


def buyer_may_cancel(*, event: Event, now=None) -> bool:
    """Whether buyers may still cancel their own tickets for the event."""
    try:
        _check_buyer_may_cancel(event=event, now=now or timezone.now())
    except errors.NotCancellable:
        return False
    return True


def _check_buyer_may_cancel(*, event: Event, now) -> None:
    deadline = event.cancellation_deadline
    if deadline is None:
        raise errors.NotCancellable(
            _("Tickets for %(event)s cannot be cancelled online; please contact the organiser.")
            % {"event": event.name}
        )
    if now >= deadline:
        raise errors.NotCancellable(
            _("Tickets for %(event)s could be cancelled until %(when)s; that time has passed.")
            % {"event": event.name, "when": formatting.moment(deadline, event.time_zone)}
        )


def _chosen_tickets(*, tickets: dict[int, Ticket], ticket_ids: list[int] | None) -> list[int]:
    """The ids to cancel, after refusing any that are not this order's or not valid."""
    if ticket_ids is None:
        chosen = [pk for pk, t in tickets.items() if t.status == Ticket.Status.VALID]
        if not chosen:
            raise errors.NotCancellable(_("This order has no tickets left to cancel."))
        return chosen
    if not ticket_ids:
        raise errors.InvalidTickets(_("Choose at least one ticket to cancel."))
    for pk in ticket_ids:
        ticket = tickets.get(pk)
        if ticket is None:
            raise errors.InvalidTickets(_("Ticket %(pk)s is not part of this order.") % {"pk": pk})
        if ticket.status == Ticket.Status.CHECKED_IN:
            raise errors.NotCancellable(
                _("Ticket %(pk)s has been checked in, so it cannot be cancelled.") % {"pk": pk}
            )
        if ticket.status == Ticket.Status.CANCELLED:
            raise errors.NotCancellable(_("Ticket %(pk)s is already cancelled.") % {"pk": pk})
    return sorted(set(ticket_ids))


def _refund(*, order: Order, amount: Decimal, reason: str, actor_id: int) -> None:
    if amount <= 0:
        raise errors.InvalidRefund(_("A refund must be more than zero."))
    if order.refunded + amount > order.total:
        currency = order.event.currency
        raise errors.InvalidRefund(
            _("That would refund %(refund)s of an order that cost %(total)s.")
            % {
                "refund": formatting.money(order.refunded + amount, currency),
                "total": formatting.money(order.total, currency),
            }
        )
    ledger.record_refund(order=order, amount=amount, reason=reason, actor_id=actor_id)
