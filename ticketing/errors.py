"""The domain errors raised by the ticketing services; the API and pages turn them into messages."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events import formatting


class TicketingError(Exception):
    """A rule refused the operation; `message` is meant for the person who asked."""

    status_code = 400
    code = "refused"
    default_message = gettext_lazy("The request was refused.")

    def __init__(self, message: str | None = None):
        # Rendered now, in the language of the request that raised it.
        self.message = str(message or self.default_message)
        super().__init__(self.message)


class AccountUnavailable(TicketingError):
    """The token was sound, but its account has been disabled or deleted since it was issued."""

    status_code = 401
    code = "user_inactive"
    default_message = gettext_lazy("This account is disabled or no longer exists; log in again.")


class NotFound(TicketingError):
    status_code = 404
    code = "not_found"
    default_message = gettext_lazy("Not found.")


class UnknownTicketType(TicketingError):
    code = "unknown_ticket_type"
    default_message = gettext_lazy("There is no such ticket type.")


class SaleNotOpen(TicketingError):
    code = "sale_not_open"
    default_message = gettext_lazy("Tickets are not on sale yet.")


class SaleClosed(TicketingError):
    code = "sale_closed"
    default_message = gettext_lazy("The sale has closed.")


class InvalidQuantity(TicketingError):
    code = "invalid_quantity"
    default_message = gettext_lazy("That quantity is not allowed.")


class LimitExceeded(TicketingError):
    code = "limit_exceeded"
    default_message = gettext_lazy("That would take you over the ticket limit for this event.")


class SoldOut(TicketingError):
    status_code = 409
    code = "sold_out"
    default_message = gettext_lazy("Sold out.")


class NotCancellable(TicketingError):
    status_code = 409
    code = "not_cancellable"
    default_message = gettext_lazy("This can no longer be cancelled.")


class IdempotencyKeyReused(TicketingError):
    status_code = 422
    code = "idempotency_key_reused"
    default_message = gettext_lazy(
        "This Idempotency-Key was already used for a different request; use a new key for a new request."
    )


class InvalidTickets(TicketingError):
    code = "invalid_tickets"
    default_message = gettext_lazy("Those tickets cannot be chosen.")


class InvalidRefund(TicketingError):
    code = "invalid_refund"
    default_message = gettext_lazy("That refund is not possible.")


class TicketCancelled(TicketingError):
    status_code = 409
    code = "ticket_cancelled"
    default_message = gettext_lazy("Cancelled ticket: it no longer admits anyone.")


class Busy(TicketingError):
    """Someone else changed the same rows at the same moment; trying again will work."""

    status_code = 409
    code = "conflict"
    default_message = gettext_lazy("Someone else changed this at the same moment; please try again.")


class NotAllowed(TicketingError):
    status_code = 403
    code = "not_allowed"
    default_message = gettext_lazy("You do not have permission to do that.")


class AlreadyCheckedIn(TicketingError):
    status_code = 409
    code = "already_checked_in"
    default_message = gettext_lazy("This ticket has already been checked in.")

    def __init__(self, ticket, entry=None):
        """`entry` is the CheckIn that admitted it on this list (None: the ticket's first admission)."""
        self.ticket = ticket
        self.entry = entry
        self.when = entry.scanned_at if entry is not None else ticket.checked_in_at
        self.by = entry.by if entry is not None else ticket.checked_in_by
        self.list_name = entry.check_in_list.name if entry is not None else ""
        zone = ticket.ticket_type.event.time_zone
        when = formatting.moment(self.when, zone)
        if self.list_name:
            message = _("Already checked in at %(when)s (%(list)s).") % {"when": when, "list": self.list_name}
        else:
            message = _("Already checked in at %(when)s.") % {"when": when}
        super().__init__(message)


class WrongEvent(TicketingError):
    status_code = 409
    code = "wrong_event"
    default_message = gettext_lazy("This ticket is for another event.")

    def __init__(self, ticket):
        self.ticket = ticket
        event = ticket.ticket_type.event
        super().__init__(
            _("This ticket is for %(event)s on %(when)s, not this event.")
            % {"event": event.name, "when": formatting.moment(event.starts_at, event.time_zone)}
        )


class NotOnList(TicketingError):
    status_code = 409
    code = "not_on_list"
    default_message = gettext_lazy("This ticket type is not admitted on this check-in list.")


class NotInside(TicketingError):
    status_code = 409
    code = "not_checked_in"
    default_message = gettext_lazy("This ticket is not checked in on this list.")


class BadSignature(TicketingError):
    """A signed code that is malformed, cut short, altered or signed with a key that is not the
    event's current one. Answered as an unknown code is, so a forger learns nothing."""

    status_code = 404
    code = "bad_signature"
    default_message = gettext_lazy("Unknown ticket: this code is not one of ours.")


class TicketReissued(TicketingError):
    status_code = 409
    code = "ticket_reissued"
    default_message = gettext_lazy(
        "This code is out of date: the ticket was re-issued; ask the guest for the current one."
    )


class NoValidTickets(TicketingError):
    status_code = 409
    code = "no_valid_tickets"
    default_message = gettext_lazy("This order has no valid tickets left: all of them were cancelled.")
