"""The per-buyer ticket limit: one rule, used by joining the queue and by the drain."""

from django.utils.translation import gettext as _

from events.models import Event
from ticketing import errors


def check_ticket_limit(*, event: Event, held: int, quantity: int) -> None:
    """Raise LimitExceeded unless a buyer holding `held` tickets may have `quantity` more.

    Joining the queue counts every ticket the buyer holds or waits for (fastqueue.tickets_held); the
    drain, which judges each request in its turn, counts those bought and served before it.
    """
    if held + quantity > event.max_tickets_per_user:
        raise errors.LimitExceeded(
            _(
                "You can hold at most %(most)s tickets for %(event)s; "
                "you already have %(held)s queued, waiting or bought."
            )
            % {"most": event.max_tickets_per_user, "event": event.name, "held": held}
        )


def most_held_before(*, event: Event, quantity: int) -> int:
    """The most tickets a buyer may hold and still be given `quantity` more (check_ticket_limit's
    bound, for the statement that joins the queue, which enforces it as it writes)."""
    return event.max_tickets_per_user - quantity


def within_ticket_limit(*, event: Event, held: int, quantity: int) -> bool:
    try:
        check_ticket_limit(event=event, held=held, quantity=quantity)
    except errors.LimitExceeded:
        return False
    return True
