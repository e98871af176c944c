import json

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

pytestmark = pytest.mark.django_db

HOSTILE_BODIES = [
    '{"broken": ',
    "[]",
    "null",
    "12",
    '{"name": "a\\u0000b", "email": "x\\u0000@y.z", "password": "p\\u0000p"}',
    '{"email": "\\ud800", "password": "\\udfff", "name": "\\ud83d"}',
    '{"ticket_type_id": 1e400, "quantity": 1e400}',
    '{"ticket_type_id": -99999999999999999999999, "quantity": 99999999999999999999999}',
    '{"ticket_type_id": {"$gt": 0}, "quantity": [1]}',
    '{"refresh_token": 5, "email": 5, "password": 5, "name": 5}',
    json.dumps({"name": "n" * 5000, "email": "e" * 5000 + "@example.test", "password": "p" * 5000}),
]

ENDPOINTS = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("get", "/api/auth/me"),
    ("get", "/api/events"),
    ("get", "/api/events/1"),
    ("get", "/api/availability?event_id=1"),
    ("post", "/api/ticket-requests"),
    ("get", "/api/ticket-requests"),
    ("get", "/api/ticket-requests/1"),
    ("delete", "/api/ticket-requests/1"),
    ("get", "/api/queue/position?request_id=1"),
    ("get", "/api/orders"),
    ("get", "/api/tickets/verify/{token}"),
    ("post", "/api/tickets/checkin/{token}"),
]


@pytest.mark.parametrize("method, path", ENDPOINTS)
@pytest.mark.parametrize("who", [None, "buyer", "door_staff"])
def test_no_hostile_body_makes_an_endpoint_fail_with_500(request, ticket, method, path, who):
    api = APIClient()
    if who:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(request.getfixturevalue(who))}")
    url = path.format(token=ticket.qr_token)

    for body in HOSTILE_BODIES:
        response = api.generic(method.upper(), url, body, content_type="application/json")
        assert response.status_code < 500, (body, response.content)


@pytest.mark.parametrize(
    "query",
    [
        "event_id=%00",
        "event_id=1&event_id=2",
        "request_id=" + "9" * 5000,
        "event_id=%ED%A0%80",
        "request_id=1%00",
    ],
)
@pytest.mark.parametrize("path", ["/api/availability", "/api/queue/position"])
def test_no_hostile_query_makes_a_read_fail_with_500(buyer, path, query):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(buyer)}")

    assert api.get(f"{path}?{query}").status_code < 500


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer a b",
        "Bearer \x00",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 10000,
        "Bearer e30.e30.e30",
    ],
)
def test_a_malformed_authorization_header_is_401_not_500(header):
    response = APIClient().get("/api/auth/me", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401


def test_a_hostile_idempotency_key_is_refused_not_500(buyer, vip):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(buyer)}")

    response = api.post(
        "/api/ticket-requests",
        {"ticket_type_id": vip.pk, "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="a\x00b",
    )

    assert response.status_code == 400
