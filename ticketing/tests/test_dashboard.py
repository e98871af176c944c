"""The organiser's dashboard: which events it shows, its figures, money and charts."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events import formatting
from events.models import Event, TicketType
from ticketing import reports, services
from ticketing.templatetags.charts import nice_ceiling

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def make_event(*, starts_at, sale_opens_at, sale_closes_at=None, time_zone="UTC", currency="EUR", **extra):
    event = Event.objects.create(
        name=extra.pop("name", f"Show {starts_at:%H%M}"),
        slug=extra.pop("slug", f"show-{Event.objects.count() + 1}"),
        starts_at=starts_at,
        sale_opens_at=sale_opens_at,
        sale_closes_at=sale_closes_at,
        time_zone=time_zone,
        currency=currency,
        **extra,
    )
    TicketType.objects.create(event=event, name="Regular", price=Decimal("50.00"), capacity=100)
    return event


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def sell(buyer, event, quantity):
    ticket_type = event.ticket_types.get()
    request = services.enqueue_request(user=buyer, ticket_type_id=ticket_type.pk, quantity=quantity)
    services.drain_event_queue(event_id=event.pk)
    request.refresh_from_db()
    return request.order


# Which events


def test_dashboard_keeps_an_event_after_its_sale_closed(admin_user):
    now = timezone.now()
    event = make_event(
        starts_at=now + timedelta(hours=1),
        sale_opens_at=now - timedelta(days=2),
        sale_closes_at=now - timedelta(hours=1),
    )
    response = logged_in(admin_user).get(reverse("ticketing:dashboard"))
    assert [s.event for s in response.context["stats"]] == [event]
    assert "Checked in" in response.content.decode()


def test_dashboard_shows_an_event_on_its_night_in_its_own_zone():
    # 10:00 in Auckland is 21:00 UTC the day before; at 14:00 there, UTC has passed midnight.
    starts = datetime(2026, 12, 24, 21, 0, tzinfo=UTC)
    event = make_event(
        starts_at=starts,
        sale_opens_at=starts - timedelta(days=7),
        sale_closes_at=starts - timedelta(hours=2),
        time_zone="Pacific/Auckland",
    )
    assert reports.dashboard_events(now=starts + timedelta(hours=4)) == [event]
    # 23:59 on the event's day in Auckland.
    assert reports.dashboard_events(now=datetime(2026, 12, 25, 10, 59, tzinfo=UTC)) == [event]


def test_dashboard_drops_an_event_at_midnight_after_its_day_in_its_own_zone():
    # 20:00 in Los Angeles is 04:00 UTC the next day; midnight there is 08:00 UTC.
    starts = datetime(2026, 12, 25, 4, 0, tzinfo=UTC)
    event = make_event(
        starts_at=starts, sale_opens_at=starts - timedelta(days=7), time_zone="America/Los_Angeles"
    )
    assert reports.dashboard_events(now=datetime(2026, 12, 25, 7, 59, tzinfo=UTC)) == [event]
    assert reports.dashboard_events(now=datetime(2026, 12, 25, 8, 0, tzinfo=UTC)) == []


def test_dashboard_waits_for_the_sale_or_waiting_room_to_open():
    now = timezone.now()
    make_event(starts_at=now + timedelta(days=3), sale_opens_at=now + timedelta(hours=1))
    room = make_event(
        starts_at=now + timedelta(days=3),
        sale_opens_at=now + timedelta(hours=1),
        waiting_room_opens_at=now - timedelta(minutes=5),
    )
    assert reports.dashboard_events(now=now) == [room]


# Figures


@pytest.fixture
def on_sale():
    now = timezone.now()
    return make_event(
        starts_at=now + timedelta(hours=3),
        sale_opens_at=now - timedelta(hours=1),
        time_zone="Europe/Berlin",
        currency="EUR",
    )


def test_dashboard_shows_ticket_sales_in_the_event_currency(admin_user, buyer, on_sale):
    sell(buyer, on_sale, 2)
    body = logged_in(admin_user).get(reverse("ticketing:dashboard")).content.decode()
    assert f'data-testid="takings-{on_sale.pk}">€100.00<' in body
    assert "Refunded" not in body


def test_dashboard_shows_refunds_and_the_net(admin_user, buyer, on_sale):
    order = sell(buyer, on_sale, 2)
    services.cancel_order(
        user=admin_user, order_id=order.pk, refund=Decimal("50.00"), ticket_ids=[order.tickets.first().pk]
    )
    services.record_refund(user=admin_user, order_id=order.pk, amount=Decimal("5.00"))
    response = logged_in(admin_user).get(reverse("ticketing:dashboard"))
    body = response.content.decode()
    report = response.context["stats"][0]
    assert (report.sold, report.cancelled, report.remaining) == (1, 1, 99)
    assert f'data-testid="takings-{on_sale.pk}">€100.00<' in body
    assert f'data-testid="refunded-{on_sale.pk}">€55.00<' in body
    assert f'data-testid="net-{on_sale.pk}">€45.00<' in body


def test_dashboard_speaks_the_organisers_words(admin_user, buyer, on_sale):
    sell(buyer, on_sale, 1)
    body = logged_in(admin_user).get(reverse("ticketing:dashboard")).content.decode()
    for words in ("Tickets sold", "Still available", "In the queue", "Checked in", "Sold per minute"):
        assert words in body
    assert "Drain rate" not in body and "requests/min" not in body


def test_dashboard_names_the_event_zone_in_its_times(admin_user, buyer, on_sale):
    sell(buyer, on_sale, 1)
    body = logged_in(admin_user).get(reverse("ticketing:dashboard")).content.decode()
    # Berlin in December.
    assert "CET" in body
    assert "UTC" not in body


def test_dashboard_counts_check_ins_per_type(admin_user, door_staff, buyer, on_sale):
    order = sell(buyer, on_sale, 3)
    services.check_in_ticket(qr_token=order.tickets.first().qr_token, staff_user=door_staff)
    response = logged_in(admin_user).get(reverse("ticketing:dashboard"), **HTMX)
    report = response.context["stats"][0]
    assert [(t.name, t.checked_in) for t in report.types] == [("Regular", 1)]
    assert report.check_ins[-1][1] == 1
    assert "1 of 3 tickets checked in" in response.content.decode()


# Charts


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (21, 25), (100, 100), (101, 200), (4321, 5000)],
)
def test_chart_axis_is_a_round_number_at_or_above_the_highest_value(value, top):
    assert nice_ceiling(value) == top


def test_sales_chart_axis_fits_the_sales_not_the_capacity(admin_user, buyer, on_sale):
    sell(buyer, on_sale, 3)
    body = logged_in(admin_user).get(reverse("ticketing:dashboard"), **HTMX).content.decode()
    assert '<li class="at-top">5</li>' in body
    assert '<li class="at-top">100</li>' not in body
    assert "3 of 100 tickets sold" in body


def test_chart_says_so_when_nothing_happened_yet(admin_user, on_sale):
    body = logged_in(admin_user).get(reverse("ticketing:dashboard"), **HTMX).content.decode()
    assert "No tickets sold yet." in body and "Nobody checked in yet." in body


def test_dashboard_links_each_event_to_its_attendee_lists(admin_user, on_sale):
    body = logged_in(admin_user).get(reverse("ticketing:dashboard")).content.decode()
    assert reverse("ticketing:attendees_csv", args=[on_sale.pk]) in body
    assert reverse("ticketing:attendees_xlsx", args=[on_sale.pk]) in body
    assert "css/dashboard.css" in body


def test_sales_chart_runs_from_the_sale_opening_in_the_event_zone(admin_user, buyer, on_sale):
    sell(buyer, on_sale, 1)
    body = logged_in(admin_user).get(reverse("ticketing:dashboard"), **HTMX).content.decode()
    opening = formatting.time_of_day(on_sale.sale_opens_at, "Europe/Berlin")
    assert opening.endswith("CET")
    assert f'<div class="run-chart-x" aria-hidden="true"><span>{opening}</span>' in body


def test_dashboard_shows_the_waiting_list_only_when_someone_waits(admin_user, buyer, on_sale):
    ticket_type = on_sale.ticket_types.get()
    client = logged_in(admin_user)
    assert "<dt>On the waiting list</dt>" not in client.get(reverse("ticketing:dashboard")).content.decode()
    TicketType.objects.filter(pk=ticket_type.pk).update(sold=ticket_type.capacity)
    services.enqueue_request(user=buyer, ticket_type_id=ticket_type.pk, quantity=2, wait_if_sold_out=True)
    response = client.get(reverse("ticketing:dashboard"))
    assert response.context["stats"][0].waiting == 1
    assert '<dt>On the waiting list</dt><dd class="big">1</dd>' in response.content.decode()
