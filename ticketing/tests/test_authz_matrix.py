"""Who may do what: every API operation and every page against five callers, as one table.

Buyer A owns everything in the world: a queued request, an order with a ticket. Buyer B, door
staff and the admin are others. A refusal changes nothing, and nobody but A (and door staff, for
the ticket itself) sees A's name, email or ticket code. To another buyer, A's things do not exist
(404, not 403).
"""

import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services as account_services
from ticketing import services
from ticketing.models import Ticket, TicketRequest
from ticketing.services import signing

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "buyer_a", "buyer_b", "door_staff", "admin"]
LOGIN = "login"  # a redirect to the log-in page
PASSWORD = "Str0ng-Passw0rd!"
NEW = "An0ther-Passw0rd!"

# fmt: off
API = [
    # method  path                                      anonymous A    B    door admin
    ("POST",   "/api/auth/register",                     201,     201, 201, 201, 201),
    ("POST",   "/api/auth/login",                        200,     200, 200, 200, 200),
    ("POST",   "/api/auth/refresh",                      200,     200, 200, 200, 200),
    # Another account's refresh token is refused (A's own is logged out).
    ("POST",   "/api/auth/logout",                       401,     204, 403, 403, 403),
    ("GET",    "/api/auth/me",                           401,     200, 200, 200, 200),
    ("GET",    "/api/events",                            200,     200, 200, 200, 200),
    ("GET",    "/api/events/{event}",                    200,     200, 200, 200, 200),
    ("GET",    "/api/availability?event_id={event}",     200,     200, 200, 200, 200),
    ("POST",   "/api/ticket-requests",                   401,     202, 202, 202, 202),
    ("GET",    "/api/ticket-requests",                   401,     200, 200, 200, 200),
    ("GET",    "/api/ticket-requests/{queued}",          401,     200, 404, 404, 404),
    ("DELETE", "/api/ticket-requests/{queued}",          401,     204, 404, 404, 404),
    ("GET",    "/api/ticket-requests/{fulfilled}",       401,     200, 404, 404, 404),
    ("DELETE", "/api/ticket-requests/{fulfilled}",       401,     409, 404, 404, 404),
    ("GET",    "/api/queue/position?request_id={queued}", 401,    200, 404, 404, 404),
    ("GET",    "/api/orders",                            401,     200, 200, 200, 200),
    ("POST",   "/api/orders/{order}/cancel",             401,     200, 404, 404, 200),
    ("GET",    "/api/orders/{order}/tickets.pdf",        401,     200, 404, 404, 404),
    ("GET",    "/api/tickets/verify/{ticket}",           200,     200, 200, 200, 200),
    ("POST",   "/api/tickets/checkin/{ticket}",          401,     403, 403, 200, 200),
    # Undo is for door supervisors (the admin); the ticket is not checked in, hence 409.
    ("POST",   "/api/tickets/checkin/{ticket}/undo",     401,     403, 403, 403, 409),
    # The default list allows no re-entry, so there is no exit to record.
    ("POST",   "/api/tickets/checkout/{ticket}",         401,     403, 403, 400, 400),
    ("GET",    "/api/check-in-lists",                    401,     403, 403, 200, 200),
    ("POST",   "/api/check-in-lists/{door_list}/scans",  401,     403, 403, 200, 200),
    ("GET",    "/api/check-in-lists/{door_list}/offline", 401,    403, 403, 200, 200),
    ("GET",    "/api/schema/",                           200,     200, 200, 200, 200),
    ("GET",    "/docs",                                  200,     200, 200, 200, 200),
]

PAGES = [
    # method  path                                      anonymous A      B      door   admin
    ("GET",    "/",                                      302,     302,   302,   302,   302),
    ("GET",    "/favicon.ico",                           302,     302,   302,   302,   302),
    ("GET",    "/events/",                               200,     200,   200,   200,   200),
    ("GET",    "/events/{event}/",                       200,     200,   200,   200,   200),
    ("POST",   "/events/{event}/",                       LOGIN,   302,   302,   302,   302),
    ("GET",    "/requests/{queued}/",                    LOGIN,   200,   404,   404,   404),
    ("POST",   "/requests/{queued}/cancel/",             LOGIN,   302,   404,   404,   404),
    ("GET",    "/requests/{fulfilled}/",                 LOGIN,   200,   404,   404,   404),
    ("GET",    "/tickets/",                              LOGIN,   200,   200,   200,   200),
    ("GET",    "/tickets/{ticket}/",                     LOGIN,   200,   404,   200,   200),
    ("GET",    "/orders/{order}/",                       LOGIN,   200,   404,   404,   200),
    ("POST",   "/orders/{order}/cancel/",                LOGIN,   302,   404,   404,   302),
    ("POST",   "/orders/{order}/refund/",                LOGIN,   403,   404,   404,   302),
    ("GET",    "/orders/{order}/tickets.pdf",            LOGIN,   200,   404,   404,   404),
    ("GET",    "/door/",                                 LOGIN,   403,   403,   200,   200),
    ("GET",    "/door/sw.js",                            LOGIN,   403,   403,   200,   200),
    ("GET",    "/door/{door_list}/",                     LOGIN,   403,   403,   200,   200),
    ("POST",   "/door/{door_list}/",                     LOGIN,   403,   403,   200,   200),
    ("GET",    "/door/{door_list}/counts/",              LOGIN,   403,   403,   200,   200),
    ("GET",    "/door/{door_list}/search/",              LOGIN,   403,   403,   403,   200),
    ("POST",   "/door/{door_list}/admit/{ticket_pk}/",   LOGIN,   403,   403,   403,   200),
    ("POST",   "/door/{door_list}/undo/{ticket_pk}/",    LOGIN,   403,   403,   403,   200),
    ("GET",    "/dashboard/",                            LOGIN,   403,   403,   403,   200),
    ("GET",    "/dashboard/events/{event}/attendees.csv",  LOGIN, 403, 403,   403,   200),
    ("GET",    "/dashboard/events/{event}/attendees.xlsx", LOGIN, 403, 403,   403,   200),
    ("GET",    "/accounts/",                             LOGIN,   200,   200,   200,   200),
    # Each changes their own password; the admin's old one is not the one sent, hence 400.
    ("POST",   "/accounts/",                             LOGIN,   302,   302,   302,   400),
    ("POST",   "/accounts/log-out-everywhere/",          LOGIN,   302,   302,   302,   302),
    ("GET",    "/accounts/login/",                       200,     200,   200,   200,   200),
    ("POST",   "/accounts/login/",                       302,     302,   302,   302,   302),
    ("GET",    "/accounts/register/",                    200,     302,   302,   302,   302),
    ("POST",   "/accounts/register/",                    302,     302,   302,   302,   302),
    ("POST",   "/accounts/logout/",                      302,     302,   302,   302,   302),
    ("GET",    "/accounts/password-reset/",              200,     200,   200,   200,   200),
    ("POST",   "/accounts/password-reset/",              302,     302,   302,   302,   302),
    ("GET",    "/accounts/password-reset/sent/",         200,     200,   200,   200,   200),
    ("GET",    "/accounts/password-reset/{a_uid}/{bad_token}/", 200, 200, 200, 200,   200),
    ("GET",    "/accounts/password-reset/done/",         200,     200,   200,   200,   200),
    # Django's set_language: anyone may choose a language; it answers with a redirect.
    ("POST",   "/i18n/setlang/",                         302,     302,   302,   302,   302),
    ("GET",    "/admin/login/",                          200,     200,   200,   200,   302),
    ("POST",   "/admin/login/",                          200,     200,   200,   200,   200),
    ("GET",    "/admin/",                                302,     302,   302,   302,   200),
    ("GET",    "/admin/ticketing/ticket/",               302,     302,   302,   302,   200),
    ("GET",    "/admin/ticketing/ticket/{ticket_pk}/change/", 302, 302, 302,   302,   200),
    ("GET",    "/admin/accounts/user/{a_pk}/change/",    302,     302,   302,   302,   200),
]
# fmt: on


@pytest.fixture
def world(buyer, other_buyer, door_staff, admin_user, event, vip, regular):
    event.cancellation_deadline = event.starts_at
    event.save(update_fields=["cancellation_deadline"])
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)
    queued = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=2)
    ticket = Ticket.objects.get(order__user=buyer)
    users = {"buyer_a": buyer, "buyer_b": other_buyer, "door_staff": door_staff, "admin": admin_user}
    return {
        "users": users,
        "ids": {
            "event": event.pk,
            "queued": queued.pk,
            "fulfilled": ticket.order.request_id,
            "order": ticket.order_id,
            "ticket": ticket.qr_token,
            "ticket_pk": ticket.pk,
            "a_pk": buyer.pk,
            "a_uid": urlsafe_base64_encode(force_bytes(buyer.pk)),
            "bad_token": "not-the-token",
            "door_list": services.default_list(event).pk,
        },
        "bodies": {
            "/api/auth/register": {"name": "New", "email": "new@example.test", "password": "N3w-Passw0rd!"},
            "/api/auth/login": {"email": buyer.email, "password": PASSWORD},
            "/api/auth/refresh": {"refresh_token": str(RefreshToken.for_user(buyer))},
            "/api/auth/logout": {"refresh_token": str(RefreshToken.for_user(buyer))},
            "/api/ticket-requests": {"ticket_type_id": regular.pk, "quantity": 1},
            "/events/{event}/": {"ticket_type": regular.pk, "quantity": 1},
            "/door/{door_list}/": {"code": ticket.qr_token},
            "/api/tickets/checkin/{ticket}/undo": {"check_in_list": services.default_list(event).pk},
            "/api/tickets/checkout/{ticket}": {"check_in_list": services.default_list(event).pk},
            "/api/check-in-lists/{door_list}/scans": {
                "scans": [
                    {"nonce": "matrix-nonce", "code": ticket.qr_token, "scanned_at": "2026-11-27T19:00:00Z"}
                ]
            },
            "/orders/{order}/cancel/": {"tickets": [ticket.pk], "reason": "matrix"},
            "/orders/{order}/refund/": {"amount": "10.00", "reason": "matrix"},
            "/accounts/login/": {"username": buyer.email, "password": PASSWORD},
            "/accounts/register/": {
                "name": "New",
                "email": "new@example.test",
                "password": "N3w-Passw0rd!",
                "password_again": "N3w-Passw0rd!",
            },
            "/accounts/password-reset/": {"email": buyer.email},
            "/accounts/": {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        },
        "ticket": ticket,
        "signed": signing.signed_token(ticket),
    }


def snapshot_of_a(buyer):
    """Everything of A's that a caller could change."""
    return (
        sorted(TicketRequest.objects.filter(user=buyer).values_list("pk", "status")),
        sorted(Ticket.objects.filter(order__user=buyer).values_list("pk", "status", "checked_in_at")),
        buyer.__class__.objects.filter(pk=buyer.pk).values_list("email", "password", "is_active").get(),
    )


def cases(table):
    for method, path, *expected in table:
        for role, status in zip(ROLES, expected, strict=True):
            yield pytest.param(method, path, role, status, id=f"{method} {path} as {role}")


def check(world, response, *, path, role, expected):
    a = world["users"]["buyer_a"]
    body = response.content.decode(errors="replace")
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    else:
        assert response.status_code == expected, body[:500]
    if role in ("anonymous", "buyer_b"):
        # Never A's identity, and A's ticket code only where the caller typed it in the URL.
        assert a.email not in body
        assert a.name not in body
        if "{ticket}" not in path:
            assert world["ids"]["ticket"] not in body
        assert world["signed"] not in body


@pytest.mark.parametrize("method, path, role, expected", list(cases(API)))
def test_api_authorization_matrix(world, method, path, role, expected):
    api = APIClient()
    if role != "anonymous":
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(world['users'][role])}")
    url = path.format(**world["ids"])
    a = world["users"]["buyer_a"]
    before = snapshot_of_a(a)

    response = api.generic(
        method, url, data=_json(world["bodies"].get(path)), content_type="application/json"
    )

    check(world, response, path=path, role=role, expected=expected)
    if response.status_code >= 400:
        assert snapshot_of_a(a) == before


@pytest.mark.parametrize("method, path, role, expected", list(cases(PAGES)))
def test_pages_authorization_matrix(world, method, path, role, expected):
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    url = path.format(**world["ids"])
    a = world["users"]["buyer_a"]
    before = snapshot_of_a(a)

    send = client.post if method == "POST" else client.get
    response = send(url, world["bodies"].get(path, {}))

    check(world, response, path=path, role=role, expected=expected)
    if response.status_code >= 400 or expected == LOGIN:
        assert snapshot_of_a(a) == before


# Every operation that needs a logged-in caller.
PROTECTED = [(method, path) for method, path, anonymous, *_ in API if anonymous == 401]


@pytest.mark.parametrize("role", ROLES[1:])
@pytest.mark.parametrize("method, path", PROTECTED)
def test_api_refuses_an_access_token_issued_before_a_revocation(world, method, path, role):
    user = world["users"][role]
    token = AccessToken.for_user(user)
    account_services.revoke_all_sessions(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    a = world["users"]["buyer_a"]
    before = snapshot_of_a(a)

    url = path.format(**world["ids"])
    response = api.generic(
        method, url, data=_json(world["bodies"].get(path)), content_type="application/json"
    )

    assert response.status_code == 401, response.content[:500]
    assert response.json()["detail"] == "This token was revoked; log in again."
    assert snapshot_of_a(a) == before


def _json(body) -> str:
    return json.dumps(body) if body is not None else ""


def routes(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            if not route.startswith("admin/"):  # the admin's own URLs: its rows sample them
                yield from routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def shape(path: str) -> str:
    return re.sub(r"<[^>]+>|\{[^}]+\}", "*", path.split("?")[0].lstrip("/"))


def test_every_route_has_a_row_in_the_matrix():
    covered = {shape(path) for _, path, *_ in API + PAGES}
    missing = sorted(route for route in routes() if shape(route) not in covered)
    # A new endpoint or page must be given its row in the table above.
    assert missing == []
