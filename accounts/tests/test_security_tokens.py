"""Every kind of bad JWT is refused with 401 on every protected operation, and refreshes nothing."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from ticketing.models import TicketRequest

pytestmark = pytest.mark.django_db


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def expired(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


def tampered(user):
    # The payload of a token for someone else under this user's signature.
    header, _, signature = str(AccessToken.for_user(user)).split(".")
    payload = AccessToken.for_user(user).payload | {"user_id": "999999"}
    return f"{header}.{b64(payload)}.{signature}"


def alg_none(user):
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(AccessToken.for_user(user).payload)}."


def alg_none_signed(user):
    # alg none, but keeping the genuine signature, in case only an empty one is checked for.
    signature = str(AccessToken.for_user(user)).split(".")[2]
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(AccessToken.for_user(user).payload)}.{signature}"


def other_algorithm(user):
    return jwt.encode(AccessToken.for_user(user).payload, settings.SECRET_KEY, algorithm="HS512")


def other_key(user):
    return jwt.encode(AccessToken.for_user(user).payload, "not-our-key-" + "q" * 40, algorithm="HS256")


def without_expiry(user):
    payload = dict(AccessToken.for_user(user).payload)
    del payload["exp"]
    return jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")


def refresh_as_access(user):
    return str(RefreshToken.for_user(user))


def of_deleted_user(user):
    token = str(AccessToken.for_user(user))
    user.delete()
    return token


def of_deactivated_user(user):
    token = str(AccessToken.for_user(user))
    user.is_active = False
    user.save(update_fields=["is_active"])
    return token


BAD_TOKENS = [
    expired,
    tampered,
    alg_none,
    alg_none_signed,
    other_algorithm,
    other_key,
    without_expiry,
    refresh_as_access,
    of_deleted_user,
    of_deactivated_user,
]

# Operations a valid token of door staff would be let through (2xx).
PROTECTED = [
    ("GET", "/api/auth/me"),
    ("GET", "/api/ticket-requests"),
    ("POST", "/api/ticket-requests"),
    ("GET", "/api/orders"),
    ("POST", "/api/tickets/checkin/{ticket}"),
]


def call(token, method, path, ticket, regular):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {"ticket_type_id": regular.pk, "quantity": 1} if path == "/api/ticket-requests" else None
    return api.generic(
        method, path.format(ticket=ticket.qr_token), json.dumps(body or {}), content_type="application/json"
    )


@pytest.mark.parametrize("method, path", PROTECTED)
def test_a_valid_door_staff_token_is_let_through(door_staff, ticket, regular, method, path):
    response = call(str(AccessToken.for_user(door_staff)), method, path, ticket, regular)

    assert 200 <= response.status_code < 300


@pytest.mark.parametrize("make_token", BAD_TOKENS)
@pytest.mark.parametrize("method, path", PROTECTED)
def test_a_bad_token_is_401_and_changes_nothing(door_staff, ticket, regular, method, path, make_token):
    token = make_token(door_staff)

    response = call(token, method, path, ticket, regular)

    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert TicketRequest.objects.count() == 1
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


@pytest.mark.parametrize("make_token", BAD_TOKENS)
def test_a_bad_token_is_401_even_on_a_public_read(door_staff, make_token):
    # A client sending a broken token learns so, rather than silently being anonymous.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(door_staff)}")

    assert api.get("/api/events").status_code == 401


def refresh_of(user, *, tamper=None):
    token = RefreshToken.for_user(user)
    if tamper == "expired":
        token.set_exp(lifetime=-timedelta(seconds=1))
    text = str(token)
    if tamper == "alg_none":
        text = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(token.payload)}."
    if tamper == "other_key":
        text = jwt.encode(token.payload, "not-our-key-" + "q" * 40, algorithm="HS256")
    return text


@pytest.mark.parametrize("tamper", ["expired", "alg_none", "other_key", "deleted", "deactivated"])
def test_a_bad_refresh_token_gets_no_access_token(buyer, tamper):
    token = refresh_of(buyer, tamper=tamper)
    if tamper == "deleted":
        buyer.delete()
    if tamper == "deactivated":
        buyer.is_active = False
        buyer.save(update_fields=["is_active"])

    response = APIClient().post("/api/auth/refresh", {"refresh_token": token}, format="json")

    assert response.status_code == 401
    assert "access_token" not in response.json()


def test_a_deactivated_users_browser_session_is_logged_out(buyer):
    api = APIClient()
    api.force_login(buyer)
    assert api.get("/api/auth/me").status_code == 200
    buyer.is_active = False
    buyer.save(update_fields=["is_active"])

    assert api.get("/api/auth/me").status_code == 401
