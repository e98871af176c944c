from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import as_user
from ticketing import services
from ticketing.models import TicketRequest

pytestmark = pytest.mark.django_db


def request_tickets(api, ticket_type_id, quantity, **headers):
    body = {"ticket_type_id": ticket_type_id, "quantity": quantity}
    return api.post("/api/ticket-requests", body, format="json", **headers)


def test_request_is_queued_and_answers_202_with_its_position(api, buyer, vip):
    response = request_tickets(as_user(api, buyer), vip.pk, 2)

    assert response.status_code == 202
    body = response.json()
    ticket_request = TicketRequest.objects.get()
    assert body["id"] == ticket_request.pk
    assert body["status"] == "queued"
    assert body["ticket_type_id"] == vip.pk
    assert body["quantity"] == 2
    assert body["position"] == 1
    assert body["waiting_room"] is False
    assert body["created_at"].endswith("Z")
    assert ticket_request.user == buyer


def test_request_position_counts_those_ahead(api, buyer, other_buyer, regular):
    services.enqueue_request(user=other_buyer, ticket_type_id=regular.pk, quantity=1)

    position = request_tickets(as_user(api, buyer), regular.pk, 1).json()["position"]
    # An integer in the JSON, not 2.0 (PostgreSQL sums counters as numeric).
    assert position == 2 and type(position) is int


def test_request_needs_a_login(api, vip):
    response = request_tickets(api, vip.pk, 1)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not TicketRequest.objects.exists()


@pytest.mark.parametrize(
    "quantity, message",
    [
        (0, "You can ask for 1 to 4 VIP tickets at a time."),
        (-3, "You can ask for 1 to 4 VIP tickets at a time."),
        (5, "You can ask for 1 to 4 VIP tickets at a time."),
    ],
)
def test_request_refuses_a_quantity_out_of_range_with_the_reason(api, buyer, vip, quantity, message):
    response = request_tickets(as_user(api, buyer), vip.pk, quantity)

    assert response.status_code == 400
    assert response.json() == {"detail": message, "code": "invalid_quantity"}


@pytest.mark.parametrize("quantity", ["two", 1.5, True, None, [1], {"n": 1}, 10**40, -(10**40), ""])
def test_request_refuses_a_quantity_that_is_not_a_sane_integer(api, buyer, vip, quantity):
    response = request_tickets(as_user(api, buyer), vip.pk, quantity)

    assert response.status_code == 400
    assert "quantity" in response.json()


@pytest.mark.parametrize("ticket_type_id", ["x", 0, -1, 2**63, 10**40, None])
def test_request_refuses_a_malformed_ticket_type_id(api, buyer, ticket_type_id):
    response = request_tickets(as_user(api, buyer), ticket_type_id, 1)

    assert response.status_code == 400
    assert "ticket_type_id" in response.json()


def test_request_refuses_an_unknown_ticket_type(api, buyer, vip):
    response = request_tickets(as_user(api, buyer), vip.pk + 1000, 1)

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_ticket_type"


def test_request_for_a_sold_out_type_is_409(api, buyer, make_event):
    event = make_event(vip=1)
    vip = event.ticket_types.get(name="VIP")
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)

    response = request_tickets(as_user(api, buyer), vip.pk, 1)

    assert response.status_code == 409
    assert response.json() == {"detail": f"VIP tickets for {event.name} are sold out.", "code": "sold_out"}


def test_request_over_the_per_buyer_limit_is_400(api, buyer, make_event):
    event = make_event(max_tickets_per_user=3)
    vip = event.ticket_types.get(name="VIP")
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)

    response = request_tickets(as_user(api, buyer), vip.pk, 2)

    assert response.status_code == 400
    assert response.json()["code"] == "limit_exceeded"
    assert "at most 3 tickets" in response.json()["detail"]


@pytest.mark.parametrize(
    "timing, code",
    [
        ({"opens_in": timedelta(hours=1)}, "sale_not_open"),
        ({"opens_in": timedelta(hours=-2), "closes_in": timedelta(hours=-1)}, "sale_closed"),
    ],
)
def test_request_outside_the_sale_is_400(api, buyer, make_event, timing, code):
    vip = make_event(**timing).ticket_types.get(name="VIP")

    response = request_tickets(as_user(api, buyer), vip.pk, 1)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_request_in_the_waiting_room_has_no_position_yet(api, buyer, make_event):
    event = make_event(opens_in=timedelta(hours=1), waiting_room=timedelta(hours=-1))
    vip = event.ticket_types.get(name="VIP")

    body = request_tickets(as_user(api, buyer), vip.pk, 1).json()

    assert body["waiting_room"] is True
    assert body["position"] is None


def test_polling_an_unplaced_waiting_room_request_after_opening_wakes_the_drain(
    api, buyer, make_event, monkeypatch
):
    event = make_event(opens_in=timedelta(hours=1), waiting_room=timedelta(hours=-1))
    vip = event.ticket_types.get(name="VIP")
    request_id = request_tickets(as_user(api, buyer), vip.pk, 1).json()["id"]
    services.wakeups.drain_started(event.pk)  # the drain its arrival woke ran, and found no sale
    woken = []
    monkeypatch.setattr(services.wakeups, "async_task", lambda *args, **kwargs: woken.append(args))
    poll = f"/api/queue/position?request_id={request_id}"

    assert api.get(poll).json()["waiting_room"] is True
    assert woken == []  # the sale has not opened: nothing to draw yet
    type(event).objects.filter(pk=event.pk).update(sale_opens_at=timezone.now())
    assert api.get(poll).json()["waiting_room"] is True
    assert woken == [("ticketing.tasks.drain_event", event.pk)]
    services.drain_event_queue(event_id=event.pk)
    body = api.get(poll).json()
    assert (body["status"], body["waiting_room"]) == ("fulfilled", False)


def test_request_with_a_repeated_idempotency_key_is_queued_once(api, buyer, vip):
    as_user(api, buyer)
    first = request_tickets(api, vip.pk, 2, HTTP_IDEMPOTENCY_KEY="abc-123")
    second = request_tickets(api, vip.pk, 2, HTTP_IDEMPOTENCY_KEY="abc-123")

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert TicketRequest.objects.count() == 1


def test_a_replayed_request_already_served_names_its_order(api, buyer, vip):
    as_user(api, buyer)
    first = request_tickets(api, vip.pk, 1, HTTP_IDEMPOTENCY_KEY="served-1").json()
    assert first["order_id"] is None
    services.drain_event_queue(event_id=vip.event_id)
    again = request_tickets(api, vip.pk, 1, HTTP_IDEMPOTENCY_KEY="served-1").json()
    order = TicketRequest.objects.get(pk=first["id"]).order
    assert (again["id"], again["status"], again["order_id"], again["position"]) == (
        first["id"],
        "fulfilled",
        order.pk,
        None,
    )


def test_request_refuses_an_idempotency_key_too_long_to_store(api, buyer, vip):
    response = request_tickets(as_user(api, buyer), vip.pk, 1, HTTP_IDEMPOTENCY_KEY="k" * 101)

    assert response.status_code == 400
    assert "idempotency_key" in response.json()
    assert not TicketRequest.objects.exists()


@pytest.mark.parametrize(
    "body, content_type",
    [
        ('{"ticket_type_id": 1, "quantity":', "application/json"),
        ("[1, 2]", "application/json"),
        ('"just a string"', "application/json"),
        ("\xff\xfe", "application/json"),
        ("quantity=1", "text/plain"),
    ],
)
def test_request_with_a_malformed_body_is_4xx_not_500(api, buyer, vip, body, content_type):
    response = as_user(api, buyer).post("/api/ticket-requests", body, content_type=content_type)

    assert response.status_code in (400, 415)
    assert "detail" in response.json() or "non_field_errors" in response.json()


def test_requests_are_throttled_per_user_with_retry_after(api, buyer, other_buyer, vip):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ticket_requests": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        as_user(api, buyer)
        statuses = [request_tickets(api, vip.pk, 1).status_code for _ in range(3)]
        throttled = request_tickets(api, vip.pk, 1)
        listing = api.get("/api/ticket-requests")
        someone_else = request_tickets(as_user(APIClient(), other_buyer), vip.pk, 1)

    assert statuses == [202, 202, 429]
    assert int(throttled["Retry-After"]) > 0
    assert listing.status_code == 200
    assert someone_else.status_code == 202


def test_list_shows_only_the_users_own_requests(api, buyer, other_buyer, vip):
    mine = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)

    response = as_user(api, buyer).get("/api/ticket-requests")

    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == [mine.pk]


def test_list_needs_a_login(api):
    assert api.get("/api/ticket-requests").status_code == 401


def test_detail_shows_the_order_once_served(api, buyer, vip):
    mine = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=vip.event_id)

    body = as_user(api, buyer).get(f"/api/ticket-requests/{mine.pk}").json()

    assert body["status"] == "fulfilled"
    assert body["order_id"] == mine.order.pk


@pytest.mark.parametrize("method", ["get", "delete"])
def test_another_users_request_is_404(api, buyer, other_buyer, vip, method):
    theirs = services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)

    response = getattr(as_user(api, buyer), method)(f"/api/ticket-requests/{theirs.pk}")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == TicketRequest.Status.QUEUED


@pytest.mark.parametrize("pk", [999999, 2**63, 10**30])
def test_unknown_request_id_is_404(api, buyer, pk):
    assert as_user(api, buyer).get(f"/api/ticket-requests/{pk}").status_code == 404
    assert as_user(api, buyer).delete(f"/api/ticket-requests/{pk}").status_code == 404


def test_cancel_while_queued_is_204(api, buyer, vip):
    mine = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)

    response = as_user(api, buyer).delete(f"/api/ticket-requests/{mine.pk}")

    assert response.status_code == 204
    mine.refresh_from_db()
    assert mine.status == TicketRequest.Status.CANCELLED


def test_cancel_after_being_served_is_409(api, buyer, vip):
    mine = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=vip.event_id)

    response = as_user(api, buyer).delete(f"/api/ticket-requests/{mine.pk}")

    assert response.status_code == 409
    assert response.json()["code"] == "not_cancellable"


def test_position_reports_place_and_wait(api, buyer, other_buyer, vip, regular):
    services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)
    mine = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)

    response = as_user(api, buyer).get(f"/api/queue/position?request_id={mine.pk}")

    assert response.status_code == 200
    body = response.json()
    assert 1.0 <= body.pop("poll_after_seconds") <= 2.4  # no rate measured yet; a couple of seconds
    assert body == {
        "request_id": mine.pk,
        "status": "queued",
        "position": 2,
        "ahead": 1,
        "eta_seconds": None,
        "waiting_room": False,
        "waiting_list": False,
        "order_id": None,
    }


def test_position_of_a_served_request_gives_its_order(api, buyer, vip):
    mine = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=vip.event_id)

    body = as_user(api, buyer).get(f"/api/queue/position?request_id={mine.pk}").json()

    assert body["status"] == "fulfilled"
    assert body["order_id"] == mine.order.pk
    assert body["position"] is None


def test_position_of_another_users_request_is_404(api, buyer, other_buyer, vip):
    theirs = services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)

    assert as_user(api, buyer).get(f"/api/queue/position?request_id={theirs.pk}").status_code == 404


@pytest.mark.parametrize(
    "query", ["", "?request_id=", "?request_id=abc", "?request_id=-1", f"?request_id={10**30}"]
)
def test_position_with_a_missing_or_malformed_id_is_400(api, buyer, query):
    response = as_user(api, buyer).get(f"/api/queue/position{query}")

    assert response.status_code == 400
    assert "request_id" in response.json()


def test_position_needs_a_login(api, buyer, vip):
    mine = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)

    assert api.get(f"/api/queue/position?request_id={mine.pk}").status_code == 401


def test_orders_list_the_users_orders_with_their_tickets(api, buyer, other_buyer, vip):
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=vip.event_id)
    order = buyer.orders.get()

    response = as_user(api, buyer).get("/api/orders")

    assert response.status_code == 200
    [body] = response.json()
    assert body["id"] == order.pk
    assert body["request_id"] == order.request_id
    assert body["event"] == {"id": vip.event_id, "name": vip.event.name}
    assert body["ticket_type"] == {"id": vip.pk, "name": "VIP"}
    assert body["quantity"] == 2
    assert body["total"] == "300.00"
    assert [t["qr_token"] for t in body["tickets"]] == [t.qr_token for t in order.tickets.all()]
    assert body["tickets"][0]["status"] == "valid"
    assert body["tickets"][0]["checked_in_at"] is None


def test_orders_need_a_login(api):
    assert api.get("/api/orders").status_code == 401
