from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

pytestmark = pytest.mark.django_db

STRONG = "Quick-Test-Passw0rd"


def bearer(token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def register(api, **fields):
    body = {"name": "Test Buyer", "email": "test@example.test", "password": STRONG, **fields}
    return api.post("/api/auth/register", body, format="json")


def login(api, email, password):
    return api.post("/api/auth/login", {"email": email, "password": password}, format="json")


def test_register_creates_account_and_answers_201(api):
    response = register(api, email="New@Example.TEST")

    assert response.status_code == 201
    user = get_user_model().objects.get()
    assert response.json() == {"id": user.pk, "name": "Test Buyer", "email": "new@example.test"}
    assert user.check_password(STRONG)


def test_register_refuses_an_email_taken_in_another_case(api, buyer):
    response = register(api, email="ALICE@example.test")

    assert response.status_code == 400
    assert response.json()["email"] == ["An account with this email address already exists."]


def test_register_refuses_the_seeds_common_password_with_a_clear_message(api):
    response = register(api, password="pass1234")

    assert response.status_code == 400
    assert response.json()["password"] == ["This password is too common."]
    assert not get_user_model().objects.exists()


def test_register_reports_each_missing_field(api):
    response = api.post("/api/auth/register", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"name", "email", "password"}


def test_register_refuses_an_invalid_email(api):
    response = register(api, email="not-an-address")

    assert response.status_code == 400
    assert response.json()["email"] == ["Enter a valid email address."]


def test_login_returns_bearer_tokens_with_the_configured_lifetime(api, buyer):
    response = login(api, "alice@example.test", "Str0ng-Passw0rd!")

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60
    assert AccessToken(body["access_token"])["user_id"] == str(buyer.pk)
    assert RefreshToken(body["refresh_token"])["user_id"] == str(buyer.pk)


def test_login_email_is_case_insensitive(api, buyer):
    assert login(api, "ALICE@Example.test", "Str0ng-Passw0rd!").status_code == 200


def test_login_expires_in_is_the_issued_tokens_lifetime(api, buyer, monkeypatch):
    monkeypatch.setattr(AccessToken, "lifetime", timedelta(minutes=5))

    body = login(api, "alice@example.test", "Str0ng-Passw0rd!").json()
    token = AccessToken(body["access_token"])

    assert body["expires_in"] == 300
    assert token["exp"] - token["iat"] == 300


@pytest.mark.parametrize("email, password", [("alice@example.test", "wrong"), ("nobody@example.test", "x")])
def test_login_with_wrong_credentials_is_401_with_a_bearer_challenge(api, buyer, email, password):
    response = login(api, email, password)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"] == "Incorrect email or password."


def test_login_refuses_a_deactivated_account(api, buyer):
    buyer.is_active = False
    buyer.save(update_fields=["is_active"])

    assert login(api, "alice@example.test", "Str0ng-Passw0rd!").status_code == 401


def test_login_ignores_a_stale_bearer_header(api, buyer):
    response = api.post(
        "/api/auth/login",
        {"email": "alice@example.test", "password": "Str0ng-Passw0rd!"},
        format="json",
        **bearer("not-a-token"),
    )

    assert response.status_code == 200


def test_refresh_returns_a_new_access_token(api, buyer):
    response = api.post(
        "/api/auth/refresh", {"refresh_token": str(RefreshToken.for_user(buyer))}, format="json"
    )

    assert response.status_code == 200
    assert AccessToken(response.json()["access_token"])["user_id"] == str(buyer.pk)
    assert response.json()["token_type"] == "bearer"


@pytest.mark.parametrize("token", ["garbage", "access"])
def test_refresh_refuses_what_is_not_a_refresh_token(api, buyer, token):
    if token == "access":
        token = str(AccessToken.for_user(buyer))

    response = api.post("/api/auth/refresh", {"refresh_token": token}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_refresh_refuses_the_token_of_a_deleted_user(api, buyer):
    token = str(RefreshToken.for_user(buyer))
    buyer.delete()

    assert api.post("/api/auth/refresh", {"refresh_token": token}, format="json").status_code == 401


def test_refresh_refuses_an_expired_token(api, buyer):
    token = RefreshToken.for_user(buyer)
    token.set_exp(lifetime=-timedelta(seconds=1))

    assert api.post("/api/auth/refresh", {"refresh_token": str(token)}, format="json").status_code == 401


def test_me_describes_the_logged_in_user(api, admin_user):
    response = api.get("/api/auth/me", **bearer(AccessToken.for_user(admin_user)))

    assert response.status_code == 200
    assert response.json() == {
        "id": admin_user.pk,
        "name": "Admin",
        "email": "admin@example.test",
        "is_staff": True,
    }


def test_me_without_a_token_is_401_with_a_bearer_challenge(api):
    response = api.get("/api/auth/me")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_expired_access_token_is_refused(api, buyer):
    token = AccessToken.for_user(buyer)
    token.set_exp(lifetime=-timedelta(seconds=1))

    response = api.get("/api/auth/me", **bearer(token))

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_tampered_access_token_is_refused(api, buyer, other_buyer):
    header, payload, signature = str(AccessToken.for_user(buyer)).split(".")
    forged_payload = str(AccessToken.for_user(other_buyer)).split(".")[1]

    response = api.get("/api/auth/me", **bearer(f"{header}.{forged_payload}.{signature}"))

    assert response.status_code == 401


def test_a_token_signed_with_another_key_is_refused(api, buyer):
    payload = AccessToken.for_user(buyer).payload
    forged = jwt.encode(payload, "another-key-" + "z" * 40, algorithm="HS256")

    assert api.get("/api/auth/me", **bearer(forged)).status_code == 401
    assert (
        api.get(
            "/api/auth/me", **bearer(jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256"))
        ).status_code
        == 200
    )


def test_login_is_throttled_with_retry_after(api, buyer):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        statuses = [login(api, "alice@example.test", "wrong").status_code for _ in range(3)]
        response = login(api, "alice@example.test", "Str0ng-Passw0rd!")

    assert statuses == [401, 401, 429]
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_registration_is_throttled_with_retry_after(api):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register": "1/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        first = register(api, email="one@example.test")
        second = register(api, email="two@example.test")

    assert first.status_code == 201
    assert second.status_code == 429
    assert int(second["Retry-After"]) > 0
    assert get_user_model().objects.count() == 1


def test_register_refuses_a_password_like_the_buyers_name(api):
    response = register(api, name="Nina Newcomer", email="nina@example.test", password="ninanewcomer")
    assert response.status_code == 400
    assert "too similar" in str(response.json()["password"])
    assert not get_user_model().objects.filter(email="nina@example.test").exists()


def test_an_api_sign_up_and_log_in_keep_the_clients_language_for_the_emails(api, buyer):
    api.post(
        "/api/auth/login", {"email": buyer.email, "password": "Str0ng-Passw0rd!"}, HTTP_ACCEPT_LANGUAGE="de"
    )
    buyer.refresh_from_db()
    assert buyer.language == "de"
    api.post(
        "/api/auth/register",
        {"name": "Eva", "email": "eva@example.test", "password": "Str0ng-Passw0rd!"},
        HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9",
    )
    assert buyer.__class__.objects.get(email="eva@example.test").language == "es"
