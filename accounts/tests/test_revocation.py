"""Logging out, a new password, a closed account and "log out everywhere" end what came before.

Each revocation is done the way a person does it (the API, the account page, the emailed reset
link, the admin), then every earlier access token, refresh token and page session is tried.
"""

import re
import time

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import revocation, services
from ticketing.tests import test_authz_matrix
from ticketing.tests.test_authz_matrix import NEW, PASSWORD, PROTECTED, _json

world = test_authz_matrix.world  # the matrix's fixture

pytestmark = pytest.mark.django_db

REVOKED = "This token was revoked; log in again."


def log_in(user, password=PASSWORD) -> dict:
    response = APIClient().post("/api/auth/login", {"email": user.email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api


def page_session(user, password=PASSWORD) -> Client:
    client = Client()
    assert client.login(username=user.email, password=password)
    return client


def refresh(refresh_token: str):
    return APIClient().post("/api/auth/refresh", {"refresh_token": refresh_token}, format="json")


def next_second():
    """Wait for the clock's next whole second: a token's `iat` has whole seconds, and one issued
    in the revocation's own second counts as earlier."""
    time.sleep(1.01 - time.time() % 1)


def by_api_logout(user, tokens, admin):
    response = bearer(tokens["access_token"]).post(
        "/api/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.status_code == 204


def by_password_change(user, tokens, admin):
    client = page_session(user)
    response = client.post(
        "/accounts/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 302
    assert client.get("/accounts/").status_code == 200  # the session that changed it stays


def by_password_reset(user, tokens, admin):
    client = Client()
    assert client.post("/accounts/password-reset/", {"email": user.email}).status_code == 302
    link = re.search(r"https?://[^/\s]+(/accounts/password-reset/\S+/)", mail.outbox[-1].body).group(1)
    form_url = client.get(link)["Location"]
    response = client.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302


def by_admin_deactivation(user, tokens, admin):
    client = page_session(admin, "Adm1n-Passw0rd!")
    # The change form without is_active ticked: the account is closed.
    response = client.post(
        f"/admin/accounts/user/{user.pk}/change/", {"email": user.email, "name": user.name}
    )
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert not user.is_active


def by_admin_action(user, tokens, admin):
    client = page_session(admin, "Adm1n-Passw0rd!")
    response = client.post("/admin/accounts/user/", {"action": "deactivate", "_selected_action": [user.pk]})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active


def by_log_out_everywhere(user, tokens, admin):
    client = page_session(user)
    response = client.post("/accounts/log-out-everywhere/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/tickets/").status_code == 302  # this session too


REVOCATIONS = {
    "api logout": by_api_logout,
    "password change page": by_password_change,
    "password reset page": by_password_reset,
    "admin deactivation": by_admin_deactivation,
    "admin deactivate action": by_admin_action,
    "log out everywhere": by_log_out_everywhere,
}
DEACTIVATIONS = {"admin deactivation", "admin deactivate action"}


@pytest.mark.parametrize("method, path", PROTECTED)
@pytest.mark.parametrize("kind", REVOCATIONS)
def test_every_earlier_token_is_refused_on_every_endpoint(world, kind, method, path):
    a = world["users"]["buyer_a"]
    tokens = log_in(a)
    REVOCATIONS[kind](a, tokens, world["users"]["admin"])
    url = path.format(**world["ids"])
    body = _json(world["bodies"].get(path))

    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = bearer(token).generic(method, url, data=body, content_type="application/json")
        assert response.status_code == 401, (token == tokens["access_token"], response.content[:300])
        if kind not in DEACTIVATIONS and token == tokens["access_token"]:
            assert response.json()["detail"] == REVOKED


@pytest.mark.parametrize("kind", REVOCATIONS)
def test_every_earlier_refresh_token_and_session_is_ended(world, kind):
    a = world["users"]["buyer_a"]
    session = page_session(a)
    assert session.get("/tickets/").status_code == 200
    tokens = log_in(a)

    REVOCATIONS[kind](a, tokens, world["users"]["admin"])

    if kind == "api logout":
        # An API log-out ends that app's tokens; the browser's session is another device.
        assert session.get("/tickets/").status_code == 200
    else:
        response = session.get("/tickets/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert refresh(tokens["refresh_token"]).status_code == 401


@pytest.mark.parametrize("kind", sorted(set(REVOCATIONS) - DEACTIVATIONS))
def test_tokens_and_sessions_after_the_revocation_work(world, kind, regular):
    a = world["users"]["buyer_a"]
    REVOCATIONS[kind](a, log_in(a), world["users"]["admin"])
    a.refresh_from_db()
    password = PASSWORD if a.check_password(PASSWORD) else NEW
    next_second()

    tokens = log_in(a, password)
    api = bearer(tokens["access_token"])
    assert api.get("/api/auth/me").status_code == 200
    joined = api.post("/api/ticket-requests", {"ticket_type_id": regular.pk, "quantity": 1}, format="json")
    assert joined.status_code == 202
    assert api.get(f"/api/queue/position?request_id={joined.json()['id']}").status_code == 200
    assert refresh(tokens["refresh_token"]).status_code == 200
    assert page_session(a, password).get("/tickets/").status_code == 200


def test_a_refresh_returns_a_new_refresh_token_and_uses_up_the_old_one(buyer):
    first = log_in(buyer)
    response = refresh(first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    assert refresh(second["refresh_token"]).status_code == 200


def test_a_reused_refresh_token_is_refused_and_kills_its_successors(buyer):
    session = page_session(buyer)
    first = log_in(buyer)
    second = refresh(first["refresh_token"]).json()
    third = refresh(second["refresh_token"]).json()

    reused = refresh(first["refresh_token"])

    assert reused.status_code == 401
    assert "already used" in reused.json()["detail"]
    assert refresh(third["refresh_token"]).status_code == 401
    for tokens in (first, second, third):
        assert bearer(tokens["access_token"]).get("/api/auth/me").status_code == 401
    assert session.get("/tickets/").status_code == 302


def test_a_refresh_token_revoked_with_its_account_is_refused_without_revoking_again(buyer):
    old = log_in(buyer)
    services.revoke_all_sessions(user=buyer)
    buyer.refresh_from_db()
    mark = buyer.tokens_valid_after
    next_second()
    new = log_in(buyer)

    assert refresh(old["refresh_token"]).json()["detail"] == REVOKED
    buyer.refresh_from_db()
    assert buyer.tokens_valid_after == mark  # a replayed old token cannot log the owner out
    assert refresh(new["refresh_token"]).status_code == 200


def test_logout_refuses_another_accounts_refresh_token(buyer, other_buyer):
    mine, theirs = log_in(buyer), log_in(other_buyer)
    response = bearer(mine["access_token"]).post(
        "/api/auth/logout", {"refresh_token": theirs["refresh_token"]}, format="json"
    )
    assert response.status_code == 403
    assert refresh(theirs["refresh_token"]).status_code == 200
    assert bearer(theirs["access_token"]).get("/api/auth/me").status_code == 200


def test_logout_refuses_a_token_that_is_not_a_refresh_token(buyer):
    tokens = log_in(buyer)
    api = bearer(tokens["access_token"])
    response = api.post("/api/auth/logout", {"refresh_token": tokens["access_token"]}, format="json")
    assert response.status_code == 400
    assert "refresh_token" in response.json()


def test_logout_leaves_other_devices_a_refresh(buyer):
    phone, laptop = log_in(buyer), log_in(buyer)
    by_api_logout(buyer, phone, None)
    next_second()

    assert bearer(laptop["access_token"]).get("/api/auth/me").status_code == 401
    renewed = refresh(laptop["refresh_token"])
    assert renewed.status_code == 200
    assert bearer(renewed.json()["access_token"]).get("/api/auth/me").status_code == 200
    assert refresh(phone["refresh_token"]).status_code == 401


def test_the_fast_path_reads_a_cached_mark_without_the_database(buyer, other_buyer):
    token = AccessToken.for_user(buyer)
    # A revocation of someone else makes the check look up the buyer's own mark.
    services.revoke_all_sessions(user=other_buyer)
    assert revocation.access_token_revoked(user_id=buyer.pk, issued_at=token["iat"]) is False

    with CaptureQueriesContext(connection) as queries:
        assert revocation.access_token_revoked(user_id=buyer.pk, issued_at=token["iat"]) is False
        services.revoke_all_sessions(user=buyer)
    reads = [
        q["sql"] for q in queries if "valid_after" in q["sql"] and q["sql"].lstrip().startswith("SELECT")
    ]
    assert reads == []
    assert revocation.access_token_revoked(user_id=buyer.pk, issued_at=token["iat"]) is True


@pytest.mark.parametrize("kind", sorted(DEACTIVATIONS))
def test_a_reactivated_account_keeps_its_earlier_tokens_and_sessions_ended(world, kind):
    a = world["users"]["buyer_a"]
    session = page_session(a)
    tokens = log_in(a)
    REVOCATIONS[kind](a, tokens, world["users"]["admin"])
    a.is_active = True
    a.save(update_fields=["is_active"])

    assert bearer(tokens["access_token"]).get("/api/auth/me").json()["detail"] == REVOKED
    assert refresh(tokens["refresh_token"]).status_code == 401
    assert session.get("/tickets/").status_code == 302
