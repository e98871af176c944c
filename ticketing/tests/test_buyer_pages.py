"""The buyer's path told honestly: what can be chosen, when the sale opens, limits, totals, the queue page."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events import formatting
from events.models import TicketType
from ticketing import selectors, services
from ticketing.forms import TicketRequestForm
from ticketing.models import TicketRequest
from ticketing.templatetags.event_pages import time_left

pytestmark = pytest.mark.django_db


def event_page(client, event):
    response = client.get(reverse("events:detail", args=[event.pk]))
    assert response.status_code == 200
    return response.content.decode()


def radio(body, ticket_type):
    """The <input> tag of the type's radio button."""
    return re.search(rf'<input type="radio"[^>]*value="{ticket_type.pk}"[^>]*>', body).group(0)


def sell_out(ticket_type):
    TicketType.objects.filter(pk=ticket_type.pk).update(sold=ticket_type.capacity)


# Sold-out types


def test_a_sold_out_type_is_never_the_default_choice(client, buyer, event, vip, regular):
    sell_out(vip)
    client.force_login(buyer)
    body = event_page(client, event)
    assert "checked" not in radio(body, vip)
    assert "checked" in radio(body, regular)
    assert "VIP · €150.00 · Sold out – join the waiting list" in body


def test_a_sold_out_type_without_a_waiting_list_cannot_be_chosen(event, vip, regular):
    sell_out(vip)
    form = TicketRequestForm(
        ticket_types=selectors.ticket_types_with_queue(event_id=event.pk), waiting_list=False
    )
    html = str(form["ticket_type"])
    assert "disabled" in radio(html, vip) and "checked" not in radio(html, vip)
    assert "disabled" not in radio(html, regular)
    assert "VIP · €150.00 · Sold out<" in html
    assert form.initial["waiting_offered"] == ""


def test_an_event_sold_out_in_every_type_says_so_and_offers_only_the_waiting_list(
    client, buyer, event, vip, regular
):
    sell_out(vip)
    sell_out(regular)
    client.force_login(buyer)
    body = event_page(client, event)
    assert 'data-testid="sold-out"' in body
    assert "Every ticket type is sold out." in body
    assert "Join the queue" not in body
    assert ">Join the waiting list</button>" in body
    assert "checked" not in radio(body, vip) and "checked" not in radio(body, regular)


def test_an_event_with_tickets_left_shows_no_sold_out_banner(client, buyer, event, vip):
    sell_out(vip)
    client.force_login(buyer)
    body = event_page(client, event)
    assert 'data-testid="sold-out"' not in body
    assert ">Join the queue</button>" in body


# Before and after the sale


def test_an_upcoming_event_says_when_its_sale_opens_in_its_zone_and_shows_no_form(client, buyer, make_event):
    later = make_event(opens_in=timedelta(hours=2, minutes=13, seconds=30), time_zone="Europe/Berlin")
    client.force_login(buyer)
    body = event_page(client, later)
    opens = formatting.moment(later.sale_opens_at, "Europe/Berlin")
    assert opens.endswith(" CET")
    assert f"The sale opens on {opens}, in" in body
    assert re.search(r'<span class="countdown" data-countdown="[^"]+"[^>]*>2 h 13 min</span>', body)
    assert 'name="quantity"' not in body
    assert "Join the queue</button>" not in body


def test_an_upcoming_event_with_a_waiting_room_names_both_openings(client, buyer, make_event):
    later = make_event(opens_in=timedelta(days=2), waiting_room=timedelta(days=1), time_zone="Asia/Tokyo")
    client.force_login(buyer)
    body = event_page(client, later)
    room = formatting.moment(later.waiting_room_opens_at, "Asia/Tokyo")
    assert f"The waiting room opens on {room}, in" in body
    assert f"The sale opens on {formatting.moment(later.sale_opens_at, 'Asia/Tokyo')}." in body
    assert 'name="quantity"' not in body


def test_an_open_waiting_room_shows_the_form_and_the_opening(client, buyer, make_event):
    later = make_event(opens_in=timedelta(hours=1), waiting_room=timedelta(minutes=-5))
    client.force_login(buyer)
    body = event_page(client, later)
    assert "Waiting room open" in body
    assert f"The sale opens on {formatting.moment(later.sale_opens_at, later.time_zone)}, in" in body
    assert 'name="quantity"' in body


def test_a_closed_sale_says_it_has_closed_and_shows_no_form(client, buyer, make_event):
    done = make_event(opens_in=timedelta(days=-3), closes_in=timedelta(days=-1))
    client.force_login(buyer)
    body = event_page(client, done)
    assert "The sale has closed." in body
    assert 'name="quantity"' not in body


@pytest.mark.parametrize(
    "seconds, said",
    [
        (30, "less than a minute"),
        (5 * 60 + 59, "5 min"),
        (2 * 3600 + 13 * 60, "2 h 13 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
    ],
)
def test_the_countdown_says_the_time_left_in_plain_units(seconds, said):
    assert time_left(seconds) == said


# Limits, prices and totals


def test_the_form_shows_both_limits_the_price_and_the_total_with_the_currency(client, buyer, make_event):
    gig = make_event(vip=None, currency="USD", max_tickets_per_user=6)
    TicketType.objects.filter(event=gig).update(max_per_request=3)
    client.force_login(buyer)
    body = event_page(client, gig)
    assert "Up to <span data-limit>3</span> per request; at most 6 per person for this event." in body
    assert "<dd data-unit-price>$50.00</dd>" in body
    assert "<dd data-total>$50.00</dd>" in body
    assert 'data-price-minor="5000"' in body and 'data-max="3"' in body


def test_a_refused_form_totals_the_quantity_asked(client, buyer, event, regular):
    TicketType.objects.filter(pk=regular.pk).update(sold=regular.capacity - 2)
    client.force_login(buyer)
    response = client.post(
        reverse("events:detail", args=[event.pk]),
        {"ticket_type": regular.pk, "quantity": 3, "idempotency_key": ""},
    )
    assert response.status_code == 400
    assert "Only 2 Regular tickets are left." in response.content.decode()
    assert "<dd data-total>€150.00</dd>" in response.content.decode()


@pytest.mark.parametrize("quantity", [0, -1, 5])
def test_a_quantity_out_of_range_gets_the_same_message_as_the_api(client, api, buyer, event, vip, quantity):
    from conftest import as_user

    client.force_login(buyer)
    page = client.post(
        reverse("events:detail", args=[event.pk]),
        {"ticket_type": vip.pk, "quantity": quantity, "idempotency_key": ""},
    )
    answer = as_user(api, buyer).post(
        "/api/ticket-requests", {"ticket_type_id": vip.pk, "quantity": quantity}, format="json"
    )
    message = "You can ask for 1 to 4 VIP tickets at a time."
    assert page.status_code == 400 and page.context["form"].errors["quantity"] == [message]
    assert answer.status_code == 400 and answer.json()["detail"] == message
    assert not TicketRequest.objects.exists()


# One name for the action


def test_the_buyers_path_calls_the_action_join_the_queue(client, buyer, event):
    listed = client.get("/events/").content.decode()
    visitor = event_page(client, event)
    client.force_login(buyer)
    buyer_page = event_page(client, event)
    for body in (listed, visitor, buyer_page):
        assert "Get tickets" not in body and "Ask for tickets" not in body and "ask for tickets" not in body
    assert "Join the queue<span" in listed
    assert "Log in to join the queue" in visitor
    assert ">Join the queue</button>" in buyer_page


# The queue page


def queue_page(client, ticket_request):
    return client.get(ticket_request.get_absolute_url()).content.decode()


def test_the_next_request_expects_its_turn_any_moment(client, buyer, regular):
    client.force_login(buyer)
    ticket_request = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    body = queue_page(client, ticket_request)
    assert re.search(r'data-testid="ahead">0<', body)
    assert 'data-testid="eta">any moment<' in body
    assert "about a minute" not in body


def test_a_request_further_back_is_not_told_any_moment(client, buyer, other_buyer, regular):
    services.enqueue_request(user=other_buyer, ticket_type_id=regular.pk, quantity=1)
    client.force_login(buyer)
    ticket_request = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    body = queue_page(client, ticket_request)
    assert re.search(r'data-testid="ahead">1<', body)
    assert "any moment" not in body


def test_cancelling_a_queued_request_or_leaving_the_waiting_list_asks_first(client, buyer, other_buyer, vip):
    client.force_login(buyer)
    queued = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    sell_out(vip)
    waiting = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1, wait_if_sold_out=True)
    cancel = reverse("ticketing:request_cancel", args=[queued.pk])
    assert re.search(
        rf'action="{cancel}" data-confirm="Cancel this request\? [^"]+"', queue_page(client, queued)
    )
    leave = reverse("ticketing:request_cancel", args=[waiting.pk])
    assert re.search(
        rf'action="{leave}" data-confirm="Leave the waiting list\? [^"]+"', queue_page(client, waiting)
    )


def test_the_queue_page_names_times_in_the_events_zone(client, buyer, make_event):
    later = make_event(
        opens_in=timedelta(hours=1), waiting_room=timedelta(minutes=-5), time_zone="America/New_York"
    )
    ticket_request = services.enqueue_request(
        user=buyer, ticket_type_id=later.ticket_types.get(name="Regular").pk, quantity=1, now=timezone.now()
    )
    client.force_login(buyer)
    body = queue_page(client, ticket_request)
    assert formatting.moment(later.starts_at, "America/New_York") in body
    assert f"The sale opens on {formatting.moment(later.sale_opens_at, 'America/New_York')}" in body
