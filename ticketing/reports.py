"""Reads for the organiser's dashboard and the attendee exports."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncMinute
from django.utils import timezone

from events import formatting
from events.models import Event
from ticketing import selectors
from ticketing.models import Order, Ticket

# Midnight after an event's own day is at most a day and an hour (a clock change) after it starts.
LONGEST_EVENT_DAY = timedelta(hours=26)
SOLD_RATE_WINDOW = timedelta(seconds=60)


def dashboard_ends_at(event: Event) -> datetime:
    """Midnight after the event's day, in its own time zone: when it leaves the dashboard."""
    tz = formatting.zone(event.time_zone)
    return datetime.combine(event.starts_at.astimezone(tz).date() + timedelta(days=1), time(), tzinfo=tz)


def dashboard_events(*, now=None) -> list[Event]:
    """Events from when they take requests (waiting room or sale) until midnight after their day
    in their own zone, soonest first; a closed sale keeps its event there for the door."""
    now = now or timezone.now()
    opened = Q(sale_opens_at__lte=now) | Q(waiting_room_opens_at__lte=now)
    candidates = Event.objects.filter(opened, starts_at__gt=now - LONGEST_EVENT_DAY).order_by(
        "starts_at", "id"
    )
    return [event for event in candidates if now < dashboard_ends_at(event)]


@dataclass
class EventReport:
    event: Event
    # Ticket types with their counters (selectors.types_with_counters).
    types: list
    sold: int
    capacity: int
    remaining: int
    queued: int
    waiting: int
    cancelled: int
    checked_in: int
    sold_last_minute: int
    # What buyers paid for their orders and what was given back, in the event's currency.
    takings: Decimal
    refunded: Decimal
    # Cumulative (minute, total) series, oldest first.
    sales: list[tuple[datetime, int]]
    check_ins: list[tuple[datetime, int]]

    @property
    def net(self) -> Decimal:
        return self.takings - self.refunded


def event_report(*, event: Event, now=None) -> EventReport:
    """One event's figures for the dashboard; the counts come from the ledger's counters."""
    now = now or timezone.now()
    types = list(selectors.ticket_types_with_queue(event_id=event.pk))
    money = money_taken(event_id=event.pk)
    return EventReport(
        event=event,
        types=types,
        sold=sum(t.sold for t in types),
        capacity=sum(t.capacity for t in types),
        remaining=sum(t.remaining for t in types),
        queued=sum(t.queued for t in types),
        waiting=sum(t.waiting for t in types),
        cancelled=sum(t.cancelled for t in types),
        checked_in=sum(t.checked_in for t in types),
        sold_last_minute=sold_since(event_id=event.pk, since=now - SOLD_RATE_WINDOW),
        takings=money["takings"],
        refunded=money["refunded"],
        sales=cumulative(selectors.sales_over_time(event_id=event.pk)),
        check_ins=cumulative(check_ins_over_time(event_id=event.pk)),
    )


def money_taken(*, event_id: int) -> dict[str, Decimal]:
    """The event's order totals (`takings`) and the refunds recorded on them (`refunded`).

    Summed from the orders: the ledger keeps no money counter, and the sum of order totals, unlike
    price times tickets held, still counts what a cancelled order paid until it is refunded.
    """
    zero = Decimal("0.00")
    return Order.objects.filter(event_id=event_id).aggregate(
        takings=Coalesce(Sum("total"), zero), refunded=Coalesce(Sum("refunded"), zero)
    )


def sold_since(*, event_id: int, since: datetime) -> int:
    """Tickets sold for the event since that moment."""
    found = Order.objects.filter(event_id=event_id, created_at__gte=since).aggregate(n=Sum("quantity"))
    return found["n"] or 0


def check_ins_over_time(*, event_id: int) -> list[tuple[datetime, int]]:
    """Tickets of the event checked in per minute, as (minute, tickets), oldest first."""
    return list(
        Ticket.objects.filter(ticket_type__event_id=event_id, checked_in_at__isnull=False)
        .annotate(minute=TruncMinute("checked_in_at"))
        .values("minute")
        .annotate(n=Count("id"))
        .order_by("minute")
        .values_list("minute", "n")
    )


def cumulative(points) -> list[tuple[datetime, int]]:
    """(moment, n) pairs as running totals."""
    total, out = 0, []
    for moment, n in points:
        total += n
        out.append((moment, total))
    return out


# Exports


ATTENDEE_FIELDS = [
    "order__user__name",
    "order__user__email",
    "ticket_type__name",
    "id",
    "order_id",
    "status",
    "checked_in_at",
]


def attendees(*, event_id: int):
    """Every ticket of the event with its holder, as ATTENDEE_FIELDS tuples, by holder's name."""
    return (
        Ticket.objects.filter(ticket_type__event_id=event_id)
        .order_by("order__user__name", "order__user__email", "id")
        .values_list(*ATTENDEE_FIELDS)
    )
