"""The events list and the event page with its request form."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import as_user
from events import formatting
from events.models import TicketType
from ticketing.models import TicketRequest

pytestmark = pytest.mark.django_db


def ask(client, event, ticket_type, quantity=1, **extra):
    data = {"ticket_type": ticket_type.pk, "quantity": quantity, "idempotency_key": "", **extra}
    return client.post(reverse("events:detail", args=[event.pk]), data)


def test_root_leads_to_the_events_list(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/events/"


def test_events_list_shows_prices_and_what_is_left(client, event, vip, regular):
    TicketType.objects.filter(pk=regular.pk).update(sold=30)
    response = client.get("/events/")
    body = response.content.decode()
    assert response.status_code == 200
    assert event.name in body
    assert "150.00" in body and "50.00" in body
    assert "<strong>50</strong> of 80 left" in body
    assert "<strong>20</strong> of 20 left" in body


def test_events_list_says_sold_out_plainly(client, event, vip):
    TicketType.objects.filter(pk=vip.pk).update(sold=vip.capacity)
    assert "Sold out" in client.get("/events/").content.decode()


def test_events_list_says_when_the_sale_opens(client, make_event):
    coming = make_event(name="Later Gig", opens_in=timedelta(days=2))
    body = client.get("/events/").content.decode()
    assert "Later Gig" in body
    assert f"The sale opens on {formatting.moment(coming.sale_opens_at, coming.time_zone)}" in body


def test_events_list_leaves_out_closed_sales(client, make_event):
    make_event(name="Finished Sale", opens_in=timedelta(days=-3), closes_in=timedelta(days=-1))
    assert "Finished Sale" not in client.get("/events/").content.decode()


def test_event_page_sends_a_visitor_to_log_in_and_back(client, event):
    response = client.get(reverse("events:detail", args=[event.pk]))
    login = reverse("login") + f"?next=/events/{event.pk}/"
    assert login in response.content.decode()
    assert 'name="quantity"' not in response.content.decode()


def test_visitor_posting_the_form_is_sent_to_log_in(client, event, regular):
    response = ask(client, event, regular)
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + f"?next=/events/{event.pk}/"
    assert not TicketRequest.objects.exists()


def test_event_page_shows_the_form_to_a_buyer(client, buyer, event):
    client.force_login(buyer)
    body = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert 'name="quantity"' in body
    assert 'name="ticket_type"' in body
    assert '<label for="id_quantity">' in body


def test_unknown_event_is_404(client):
    assert client.get("/events/999999/").status_code == 404


def test_buyer_joins_the_queue_and_lands_on_the_request_page(client, buyer, event, regular):
    client.force_login(buyer)
    response = ask(client, event, regular, quantity=2)
    ticket_request = TicketRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("ticketing:request", args=[ticket_request.pk])
    assert (ticket_request.user, ticket_request.ticket_type, ticket_request.quantity) == (buyer, regular, 2)


def test_resubmitted_form_joins_the_queue_once(client, buyer, event, regular):
    client.force_login(buyer)
    ask(client, event, regular, idempotency_key="form-1")
    ask(client, event, regular, idempotency_key="form-1")
    assert TicketRequest.objects.count() == 1


def test_sold_out_refusal_appears_on_the_form(client, buyer, event, vip):
    TicketType.objects.filter(pk=vip.pk).update(sold=vip.capacity)
    client.force_login(buyer)
    response = ask(client, event, vip)
    assert response.status_code == 400
    assert "VIP tickets for" in response.content.decode() and "sold out" in response.content.decode()
    assert not TicketRequest.objects.exists()


def test_quantity_over_the_type_limit_is_shown_beside_the_quantity(client, buyer, event, regular):
    TicketType.objects.filter(pk=regular.pk).update(max_per_request=2)
    client.force_login(buyer)
    response = ask(client, event, regular, quantity=3)
    assert response.status_code == 400
    assert response.context["form"].errors["quantity"] == [
        "You can ask for 1 to 2 Regular tickets at a time."
    ]


def test_sale_not_open_refusal_appears_on_the_form(client, buyer, make_event):
    later = make_event(opens_in=timedelta(days=1))
    client.force_login(buyer)
    response = ask(client, later, later.ticket_types.get(name="Regular"))
    assert response.status_code == 400
    assert "go on sale on" in " ".join(response.context["form"].non_field_errors())


def test_form_errors_for_a_missing_quantity(client, buyer, event, regular):
    client.force_login(buyer)
    response = ask(client, event, regular, quantity="")
    assert response.status_code == 400
    assert "quantity" in response.context["form"].errors


def test_request_form_needs_the_csrf_token(buyer, event, regular):
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    response = ask(client, event, regular)
    assert response.status_code == 403
    assert not TicketRequest.objects.exists()


def test_request_form_works_with_the_csrf_token(buyer, event, regular):
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    client.get(reverse("events:detail", args=[event.pk]))
    response = ask(client, event, regular, csrfmiddlewaretoken=client.cookies["csrftoken"].value)
    assert response.status_code == 302
    assert TicketRequest.objects.count() == 1


def test_navigation_shows_who_is_logged_in(client, buyer):
    client.force_login(buyer)
    body = client.get("/events/").content.decode()
    assert "Alice" in body and "Log out" in body and "My tickets" in body
    assert "Dashboard" not in body and ">Door<" not in body


def test_navigation_offers_staff_their_pages(client, admin_user):
    client.force_login(admin_user)
    body = client.get("/events/").content.decode()
    assert "Dashboard" in body and ">Door<" in body


def test_a_sold_out_type_offers_its_waiting_list_and_choosing_it_joins(client, buyer, event, vip):
    TicketType.objects.filter(pk=vip.pk).update(sold=vip.capacity)
    client.force_login(buyer)
    page = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert "Sold out – join the waiting list" in page
    offered = re.search(r'name="waiting_offered" value="([^"]*)"', page).group(1)
    assert offered.split() == [str(vip.pk)]
    response = ask(client, event, vip, waiting_offered=offered)
    request = TicketRequest.objects.get()
    assert response["Location"] == request.get_absolute_url()
    assert (request.status, request.wait_if_sold_out) == ("waiting", True)
    assert "on the waiting list" in client.get(request.get_absolute_url()).content.decode()


@pytest.mark.parametrize("quantity", [3, 10**12])
def test_the_form_itself_refuses_a_quantity_over_the_chosen_types_limit(
    client, buyer, event, regular, quantity, monkeypatch
):
    from ticketing import services

    TicketType.objects.filter(pk=regular.pk).update(max_per_request=2)
    monkeypatch.setattr(services, "enqueue_request", lambda **kw: pytest.fail("the form let it through"))
    client.force_login(buyer)
    response = ask(client, event, regular, quantity=quantity)
    assert response.status_code == 400
    assert response.context["form"].errors["quantity"] == [
        "You can ask for 1 to 2 Regular tickets at a time."
    ]


def request_rate(rate):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ticket_requests": rate}
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates})


def test_request_form_past_the_limit_gets_the_429_page_and_queues_nothing(client, buyer, event, regular):
    client.force_login(buyer)
    with request_rate("2/min"):
        statuses = [ask(client, event, regular, idempotency_key=f"form-{n}").status_code for n in range(2)]
        blocked = ask(client, event, regular, idempotency_key="form-3")
        shown = client.get(reverse("events:detail", args=[event.pk]))
        api = as_user(APIClient(), buyer).post(
            "/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 1}, format="json"
        )

    assert statuses == [302, 302]
    assert blocked.status_code == 429 and 0 < int(blocked["Retry-After"]) <= 60
    assert "Too many attempts. Try again in 1 minute." in blocked.content.decode()
    assert TicketRequest.objects.count() == 2
    assert shown.status_code == 200, "showing the event page is not counted"
    assert api.status_code == 429, "the page and the API share the buyer's allowance"


def test_request_form_is_counted_per_buyer(client, buyer, other_buyer, event, regular):
    with request_rate("1/min"):
        client.force_login(buyer)
        first = ask(client, event, regular, idempotency_key="a")
        client.force_login(other_buyer)
        other = ask(client, event, regular, idempotency_key="b")

    assert (first.status_code, other.status_code) == (302, 302)
