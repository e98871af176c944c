"""What an event's page shows: its sale's state, what can still be chosen, and when the sale opens."""

from dataclasses import dataclass
from datetime import datetime

from babel.numbers import get_currency_precision
from django.db.models import QuerySet
from django.utils import timezone

from events.models import Event, SaleState
from ticketing import selectors, services


@dataclass
class EventPage:
    event: Event
    state: SaleState
    # A queryset (the form's choices) with each type's event and counters.
    ticket_types: QuerySet
    # The types a new request may still take; the others are sold out.
    on_sale: list
    # Whether a sold-out type offers its waiting list (it does whenever requests are taken).
    waiting_list: bool
    # The next opening the page counts down to (waiting room or sale), None once open.
    opens_next: datetime | None

    @property
    def sold_out(self) -> bool:
        """Every type is sold out."""
        return bool(self.ticket_types) and not self.on_sale

    @property
    def shows_form(self) -> bool:
        """The request form is offered: only while the event takes requests (waiting room or open)."""
        return self.state.takes_requests and bool(self.ticket_types)


def event_page(*, event: Event, now=None) -> EventPage:
    """The event's page at `now`: its types with their counters, and what its sale allows."""
    now = now or timezone.now()
    state = event.sale_state(now)
    types = selectors.ticket_types_with_queue(event_id=event.pk).select_related("event")
    return EventPage(
        event=event,
        state=state,
        ticket_types=types,
        on_sale=[t for t in types if services.tickets_on_sale(t) > 0],
        waiting_list=state.takes_requests,
        opens_next=next_opening(event=event, state=state),
    )


def next_opening(*, event: Event, state: SaleState) -> datetime | None:
    """When the waiting room (if not open yet) or else the sale opens; None once the sale has opened."""
    if state == SaleState.UPCOMING:
        return event.waiting_room_opens_at or event.sale_opens_at
    if state == SaleState.WAITING_ROOM:
        return event.sale_opens_at
    return None


def minor_units(amount, currency: str) -> int:
    """An amount in the currency's smallest unit (cents), for the page's script to multiply."""
    return int(round(amount * 10 ** get_currency_precision(currency)))
