"""Cancelling tickets and recording refunds: the order page for buyers and staff, and the API."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import as_user
from ticketing import services
from ticketing.models import AuditEntry, Order, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(buyer, make_event):
    event = make_event(vip=None, regular=10, cancellation_deadline=timezone.now() + timedelta(days=1))
    regular = event.ticket_types.get()
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=3)
    services.drain_event_queue(event_id=event.pk)
    return Order.objects.get()


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def cancel(client, order, tickets, **extra):
    return client.post(reverse("ticketing:order_cancel", args=[order.pk]), {"tickets": tickets, **extra})


def snapshot():
    return (
        sorted(Ticket.objects.values_list("pk", "status")),
        list(Order.objects.values_list("status", "active", "refunded")),
        AuditEntry.objects.count(),
    )


# Pages


def test_the_buyer_cancels_chosen_tickets_from_the_order_page(buyer, order):
    client = logged_in(buyer)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Cancel the chosen tickets" in page and "You can cancel until" in page
    first = order.tickets.order_by("pk").first()
    response = cancel(client, order, [first.pk])
    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
    page = client.get(order.get_absolute_url()).content.decode()
    assert "1 ticket cancelled." in page and "Partly cancelled" in page and "2 still valid" in page
    assert client.get(first.get_absolute_url()).content.decode().count("Cancelled") >= 1


def test_after_the_deadline_the_page_says_so_and_a_post_is_refused(buyer, order):
    order.event.cancellation_deadline = timezone.now() - timedelta(minutes=5)
    order.event.save()
    client = logged_in(buyer)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Cancel the chosen tickets" not in page and "Please contact the organiser" in page
    before = snapshot()
    response = cancel(client, order, [order.tickets.first().pk])
    assert response.status_code == 400
    assert "that time has passed" in response.content.decode()
    assert snapshot() == before


def test_a_checked_in_ticket_is_not_offered_and_cannot_be_cancelled(buyer, door_staff, order):
    used = order.tickets.order_by("pk").first()
    services.check_in_ticket(qr_token=used.qr_token, staff_user=door_staff)
    client = logged_in(buyer)
    page = client.get(order.get_absolute_url()).content.decode()
    assert f'value="{used.pk}"' not in page
    before = snapshot()
    response = cancel(client, order, [used.pk])
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert snapshot() == before


def test_another_buyer_cannot_see_or_cancel_the_order(other_buyer, order):
    client = logged_in(other_buyer)
    before = snapshot()
    assert client.get(order.get_absolute_url()).status_code == 404
    assert cancel(client, order, [order.tickets.first().pk]).status_code == 404
    assert snapshot() == before


def test_staff_cancel_with_a_reason_and_refund_then_record_another_refund(admin_user, order):
    client = logged_in(admin_user)
    ids = list(order.tickets.values_list("pk", flat=True))
    response = cancel(client, order, ids, reason="event moved", refund="100.00")
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.refunded) == ("cancelled", Decimal("100.00"))
    response = client.post(reverse("ticketing:order_refund", args=[order.pk]), {"amount": "50.00"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.refunded == Decimal("150.00")
    response = client.post(reverse("ticketing:order_refund", args=[order.pk]), {"amount": "0.01"})
    assert response.status_code == 400 and "That would refund €150.01" in response.content.decode()
    entries = AuditEntry.objects.filter(kind="refunded", actor_id=admin_user.pk)
    assert sorted(entries.values_list("amount", flat=True)) == [Decimal("50.00"), Decimal("100.00")]


def test_the_door_page_says_cancelled_ticket_in_red(buyer, door_staff, order):
    ticket = order.tickets.first()
    services.cancel_order(user=buyer, order_id=order.pk, ticket_ids=[ticket.pk])
    door = reverse("ticketing:door_list", args=[services.default_list(order.event).pk])
    response = logged_in(door_staff).post(door, {"code": ticket.qr_token})
    body = response.content.decode()
    assert '<p class="verdict">Cancelled ticket</p>' in body and "refused" in body
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


# API


def test_api_cancel_answers_the_order_with_each_tickets_status(api, buyer, order):
    first, *_ = order.tickets.order_by("pk")
    response = as_user(api, buyer).post(
        f"/api/orders/{order.pk}/cancel", {"ticket_ids": [first.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["active"]) == ("partly_cancelled", 2)
    assert [t["status"] for t in body["tickets"]] == ["cancelled", "valid", "valid"]
    response = as_user(api, buyer).post(f"/api/orders/{order.pk}/cancel", {}, format="json")
    assert response.json()["status"] == "cancelled"
    assert api.get("/api/orders").json()[0]["status"] == "cancelled"


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"ticket_ids": [999_999]}, 400, "invalid_tickets"),
        ({"ticket_ids": []}, 400, None),
        ({"ticket_ids": ["x"]}, 400, None),
        ({"ticket_ids": 5}, 400, None),
    ],
)
def test_api_cancel_refuses_bad_input_and_changes_nothing(api, buyer, order, body, status, code):
    before = snapshot()
    response = as_user(api, buyer).post(f"/api/orders/{order.pk}/cancel", body, format="json")
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
        assert "not part of this order" in response.json()["detail"]
    assert snapshot() == before


def test_api_cancel_after_the_deadline_or_of_a_checked_in_ticket_is_409(api, buyer, door_staff, order):
    used = order.tickets.order_by("pk").first()
    services.check_in_ticket(qr_token=used.qr_token, staff_user=door_staff)
    before = snapshot()
    response = as_user(api, buyer).post(
        f"/api/orders/{order.pk}/cancel", {"ticket_ids": [used.pk]}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "not_cancellable")
    assert "checked in" in response.json()["detail"]
    order.event.cancellation_deadline = timezone.now() - timedelta(minutes=1)
    order.event.save()
    response = api.post(f"/api/orders/{order.pk}/cancel", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "not_cancellable")
    assert snapshot() == before


def test_api_cancel_of_another_buyers_order_is_404(api, other_buyer, order):
    before = snapshot()
    response = as_user(api, other_buyer).post(f"/api/orders/{order.pk}/cancel", {}, format="json")
    assert response.status_code == 404
    assert snapshot() == before


def test_api_checkin_of_a_cancelled_ticket_is_409_ticket_cancelled(api, buyer, door_staff, order):
    ticket = order.tickets.first()
    services.cancel_order(user=buyer, order_id=order.pk, ticket_ids=[ticket.pk])
    response = as_user(api, door_staff).post(f"/api/tickets/checkin/{ticket.qr_token}")
    assert (response.status_code, response.json()["code"]) == (409, "ticket_cancelled")
    verify = api.get(f"/api/tickets/verify/{ticket.qr_token}").json()
    assert (verify["valid"], verify["status"]) == (False, "cancelled")


def test_api_waiting_list_request_and_its_position(api, buyer, other_buyer, make_event):
    event = make_event(vip=None, regular=1)
    regular = event.ticket_types.get()
    services.enqueue_request(user=other_buyer, ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)
    refused = as_user(api, buyer).post("/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 1})
    assert (refused.status_code, refused.json()["code"]) == (409, "sold_out")
    accepted = api.post(
        "/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 1, "wait_if_sold_out": True}
    )
    assert accepted.status_code == 202, accepted.content
    body = accepted.json()
    assert (body["status"], body["position"], body["wait_if_sold_out"]) == ("waiting", 1, True)
    position = api.get(f"/api/queue/position?request_id={body['id']}").json()
    assert (position["status"], position["waiting_list"], position["ahead"]) == ("waiting", True, 0)
    availability = api.get(f"/api/availability?event_id={event.pk}").json()["ticket_types"][0]
    assert (availability["remaining"], availability["waiting"]) == (0, 1)
    assert api.delete(f"/api/ticket-requests/{body['id']}").status_code == 204
    assert api.get(f"/api/ticket-requests/{body['id']}").json()["status"] == "cancelled"


def test_api_idempotency_key_reused_for_another_body_is_422(api, buyer, regular):
    client = as_user(api, buyer)
    first = client.post(
        "/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 1}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = client.post(
        "/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 1}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == again.status_code == 202 and first.json()["id"] == again.json()["id"]
    other = client.post(
        "/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 2}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


# My tickets


def test_my_tickets_groups_the_orders_under_one_heading_per_event(buyer, make_event):
    later = make_event(name="Later Show", vip=None, regular=10, time_zone="America/New_York")
    sooner = make_event(name="Sooner Show", vip=None, regular=10, time_zone="Europe/Berlin")
    sooner.starts_at = later.starts_at - timedelta(days=3)
    sooner.save(update_fields=["starts_at"])
    for event in (later, sooner, later):
        services.enqueue_request(user=buyer, ticket_type_id=event.ticket_types.get().pk, quantity=1)
        services.drain_event_queue(event_id=event.pk)
    first_later, second_later = Order.objects.filter(event=later).order_by("pk")
    [sooner_order] = Order.objects.filter(event=sooner)

    page = logged_in(buyer).get(reverse("ticketing:my_tickets")).content.decode()
    sections = page.split('data-testid="event-tickets"')[1:]
    assert [s.count("<h2") for s in sections] == [1, 1]
    assert "Sooner Show" in sections[0] and "CET" in sections[0]
    assert "Later Show" in sections[1] and "EST" in sections[1]
    assert f"Order #{sooner_order.pk}" in sections[0] and "Later Show" not in sections[0]
    # The later event's two orders share its one section, the newest first.
    assert sections[1].index(f"Order #{second_later.pk}") < sections[1].index(f"Order #{first_later.pk}")
    assert reverse("ticketing:order_tickets_pdf", args=[first_later.pk]) in sections[1]
