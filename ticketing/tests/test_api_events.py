import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command

from conftest import as_user
from ticketing import services

pytestmark = pytest.mark.django_db


def test_events_list_those_on_sale_or_coming_with_their_ticket_types(api, make_event):
    on_sale = make_event()
    coming = make_event(opens_in=timedelta(days=1))
    make_event(opens_in=timedelta(days=-2), closes_in=timedelta(days=-1))

    response = api.get("/api/events")

    assert response.status_code == 200
    body = response.json()
    assert sorted(e["id"] for e in body) == sorted([on_sale.pk, coming.pk])
    event = next(e for e in body if e["id"] == on_sale.pk)
    assert event["sale_state"] == "open"
    assert event["starts_at"].endswith("Z")
    assert event["ticket_types"][0] == {
        "id": on_sale.ticket_types.get(name="VIP").pk,
        "name": "VIP",
        "price": "150.00",
        "currency": settings.CURRENCY,
        "capacity": 20,
        "sold": 0,
        "remaining": 20,
        "priority": 10,
        "max_per_request": 4,
    }


def test_event_detail_shows_one_event(api, event, vip):
    response = api.get(f"/api/events/{event.pk}")

    assert response.status_code == 200
    assert response.json()["name"] == event.name
    assert [t["name"] for t in response.json()["ticket_types"]] == ["VIP", "Regular"]


def test_events_name_their_time_zone_and_currency_beside_every_price(
    api, make_event, django_assert_max_num_queries
):
    berlin = make_event(time_zone="Europe/Berlin", currency="EUR")
    make_event(time_zone="America/New_York", currency="USD")

    with django_assert_max_num_queries(3):
        listed = {e["id"]: e for e in api.get("/api/events").json()}
    one = api.get(f"/api/events/{berlin.pk}").json()

    assert (one["time_zone"], one["currency"]) == ("Europe/Berlin", "EUR")
    assert {t["currency"] for t in one["ticket_types"]} == {"EUR"}
    assert sorted((e["time_zone"], e["currency"]) for e in listed.values()) == [
        ("America/New_York", "USD"),
        ("Europe/Berlin", "EUR"),
    ]
    assert {t["currency"] for e in listed.values() for t in e["ticket_types"]} == {"EUR", "USD"}


def test_a_request_and_its_order_carry_the_events_currency(api, buyer, make_event):
    yen = make_event(currency="JPY")
    regular = yen.ticket_types.get(name="Regular")
    client = as_user(api, buyer)

    created = client.post(
        "/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 2}, format="json"
    )
    services.drain_event_queue(event_id=yen.pk)
    listed = client.get("/api/ticket-requests").json()
    orders = client.get("/api/orders").json()

    assert created.status_code == 202 and created.json()["currency"] == "JPY"
    assert [r["currency"] for r in listed] == ["JPY"]
    assert [(o["total"], o["currency"]) for o in orders] == [("100.00", "JPY")]


@pytest.mark.parametrize("pk", [999999, 10**30])
def test_unknown_event_is_404(api, pk):
    assert api.get(f"/api/events/{pk}").status_code == 404


def test_availability_counts_sold_remaining_and_queued(api, buyer, other_buyer, event, vip, regular):
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=3)
    services.drain_event_queue(event_id=event.pk)
    services.enqueue_request(user=other_buyer, ticket_type_id=regular.pk, quantity=1)

    response = api.get(f"/api/availability?event_id={event.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "event_id": event.pk,
        "sale_state": "open",
        "ticket_types": [
            {
                "id": vip.pk,
                "name": "VIP",
                "capacity": 20,
                "sold": 3,
                "remaining": 17,
                "queued": 0,
                "waiting": 0,
            },
            {
                "id": regular.pk,
                "name": "Regular",
                "capacity": 80,
                "sold": 0,
                "remaining": 80,
                "queued": 1,
                "waiting": 0,
            },
        ],
    }


@pytest.mark.parametrize(
    "query", ["", "?event_id=", "?event_id=one", "?event_id=1.5", "?event_id=-4", "?event_id=1e400"]
)
def test_availability_with_a_missing_or_malformed_event_id_is_400(api, query):
    response = api.get(f"/api/availability{query}")

    assert response.status_code == 400
    assert "event_id" in response.json()


def test_availability_of_an_unknown_event_is_404(api, event):
    assert api.get(f"/api/availability?event_id={event.pk + 1000}").status_code == 404


def test_cors_allows_the_configured_origin(api, settings):
    response = api.get("/api/events", HTTP_ORIGIN="http://localhost:5173")

    assert response["Access-Control-Allow-Origin"] == "http://localhost:5173"


def test_cors_does_not_allow_other_origins(api):
    response = api.get("/api/events", HTTP_ORIGIN="https://evil.example")

    assert "Access-Control-Allow-Origin" not in response


def test_cors_preflight_allows_authorization_from_the_configured_origin(api):
    response = api.options(
        "/api/ticket-requests",
        HTTP_ORIGIN="http://localhost:5173",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "authorization" in response["Access-Control-Allow-Headers"]


def test_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = target.read_text()
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/me",
        "/api/events",
        "/api/events/{id}",
        "/api/availability",
        "/api/ticket-requests",
        "/api/ticket-requests/{id}",
        "/api/queue/position",
        "/api/orders",
        "/api/tickets/verify/{qr_token}",
        "/api/tickets/checkin/{qr_token}",
    ]:
        assert f"  {path}:" in schema


def test_schema_is_served_as_json(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert "/api/ticket-requests" in response.json()["paths"]


def test_docs_page_loads_its_assets_from_eventtix_not_a_cdn(client):
    response = client.get("/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    external = [url for url in re.findall(r"""(?:src|href)=["']?(https?://[^"' >]+)""", html)]
    assert external == []
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html


@pytest.mark.parametrize("path", ["/api/events", "/api/availability?event_id={event}", "/api/events/{event}"])
def test_browsable_api_renders_public_reads_in_a_browser(client, event, path):
    response = client.get(path.format(event=event.pk), HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "VIP" in response.content.decode()


@pytest.mark.parametrize("path", ["/api/ticket-requests", "/api/orders", "/api/auth/me"])
def test_browsable_api_renders_private_reads_for_a_logged_in_browser(client, buyer, path):
    client.force_login(buyer)

    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
