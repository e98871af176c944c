"""Every door has a lock: the account pages and the admin's log-in are throttled like their API
twins (the same scopes, rates and counters), per client address and per email typed."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "Str0ng-Passw0rd!"


def rates(num_proxies=None, **scoped):
    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scoped}
    framework = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}
    if num_proxies is not None:
        framework["NUM_PROXIES"] = num_proxies
    return override_settings(REST_FRAMEWORK=framework)


def from_address(address="203.0.113.7", **meta):
    return Client(REMOTE_ADDR=address, **meta)


def page_login(client, email, password="wrong", path="/accounts/login/"):
    return client.post(path, {"username": email, "password": password})


def page_register(client, n):
    data = {"name": f"Bot {n}", "email": f"bot{n}@example.test", "password": "B0t-Passw0rd-Str0ng"}
    response = client.post("/accounts/register/", {**data, "password_again": data["password"]})
    client.logout()  # signed up means logged in, and the sign-up page then only redirects
    return response


def api_register(n, address="203.0.113.7"):
    body = {"name": f"Bot {n}", "email": f"bot{n}@example.test", "password": "B0t-Passw0rd-Str0ng"}
    return APIClient(REMOTE_ADDR=address).post("/api/auth/register", body, format="json")


def assert_lockout_page(response):
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "Too many attempts. Try again in 1 minute." in response.content.decode()


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_page_login_past_the_limit_gets_the_429_page_and_is_not_tried(buyer, make_user):
    client = from_address()
    with rates(login="3/min"):
        statuses = [page_login(client, make_user().email).status_code for _ in range(3)]
        blocked = page_login(client, buyer.email, PASSWORD)

    assert statuses == [200, 200, 200]
    assert_lockout_page(blocked)
    assert not logged_in(client), "the right password does not pass the throttle"
    assert page_login(from_address("198.51.100.9"), buyer.email, PASSWORD).status_code == 302


def test_page_login_is_counted_per_email_from_any_address(buyer):
    with rates(login="3/min"):
        statuses = [
            page_login(from_address(f"203.0.113.{i}"), " Alice@Example.TEST ").status_code for i in range(3)
        ]
        blocked = page_login(from_address("198.51.100.9"), buyer.email, PASSWORD)

    assert statuses == [200, 200, 200]
    assert_lockout_page(blocked)


def test_admin_login_past_the_limit_gets_the_standalone_429_page(admin_user):
    client = from_address()
    with rates(login="2/min"):
        statuses = [page_login(client, admin_user.email, path="/admin/login/").status_code for _ in range(2)]
        blocked = page_login(client, admin_user.email, "Adm1n-Passw0rd!", path="/admin/login/")

    assert statuses == [200, 200]
    assert_lockout_page(blocked)
    assert "<nav" not in blocked.content.decode().split("</header>", 1)[1], "the standalone page"
    assert not logged_in(client)


def test_page_login_and_the_api_share_one_allowance(buyer):
    api = APIClient(REMOTE_ADDR="203.0.113.7")
    with rates(login="2/min"):
        page = page_login(from_address(), buyer.email).status_code
        api_status = api.post("/api/auth/login", {"email": "x@example.test", "password": "w"}, format="json")
        blocked = page_login(from_address(), "y@example.test")

    assert (page, api_status.status_code) == (200, 401)
    assert_lockout_page(blocked)


def test_page_sign_up_past_the_limit_gets_the_429_page_and_creates_no_account():
    client = from_address()
    with rates(register="2/min"):
        statuses = [page_register(client, n).status_code for n in range(2)]
        blocked = page_register(client, 9)

    assert statuses == [302, 302]
    assert_lockout_page(blocked)
    assert get_user_model().objects.count() == 2


def test_sign_up_has_a_daily_cap_per_address_shared_by_the_page_and_the_api():
    with rates(register="100/min", register_day="2/day"):
        first = page_register(from_address(), 1)
        second = api_register(2)
        blocked_page = page_register(from_address(), 3)
        blocked_api = api_register(4)
        other_address = api_register(5, address="198.51.100.9")

    assert (first.status_code, second.status_code) == (302, 201)
    assert blocked_page.status_code == 429 and "Too many attempts" in blocked_page.content.decode()
    assert blocked_api.status_code == 429 and int(blocked_api["Retry-After"]) > 0
    assert other_address.status_code == 201
    assert get_user_model().objects.count() == 3


def test_password_reset_past_the_limit_gets_the_429_page_and_sends_no_email(buyer):
    client = from_address()
    with rates(password_reset="2/hour"):
        statuses = [
            client.post("/accounts/password-reset/", {"email": buyer.email}).status_code for _ in range(2)
        ]
        blocked = client.post("/accounts/password-reset/", {"email": buyer.email})

    assert statuses == [302, 302]
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 60
    assert "Too many attempts. Try again in" in blocked.content.decode()
    assert len(mail.outbox) == 2


def test_password_reset_is_counted_per_email_from_any_address(buyer):
    with rates(password_reset="2/hour"):
        for i in range(2):
            from_address(f"203.0.113.{i}").post("/accounts/password-reset/", {"email": buyer.email})
        blocked = from_address("198.51.100.9").post(
            "/accounts/password-reset/", {"email": "ALICE@example.test"}
        )

    assert blocked.status_code == 429
    assert len(mail.outbox) == 2


def test_showing_the_forms_is_never_counted(buyer):
    client = from_address()
    with rates(login="1/min", register="1/min", register_day="1/day", password_reset="1/hour"):
        for _ in range(3):
            for path in (
                "/accounts/login/",
                "/admin/login/",
                "/accounts/register/",
                "/accounts/password-reset/",
            ):
                assert client.get(path).status_code == 200, path
        assert page_login(client, buyer.email, PASSWORD).status_code == 302


def test_the_pages_find_the_client_address_as_the_api_does_behind_proxies(buyer):
    # Behind one proxy the proxy's own entry names the client; without one it is ignored (forgeable).
    with rates(login="1/min", num_proxies=1):
        first = page_login(from_address("10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7"), "a@example.test")
        second = page_login(from_address("10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9"), "b@example.test")
        again = page_login(from_address("10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7"), "c@example.test")
    with rates(login="1/min", num_proxies=0):
        forged = [
            page_login(from_address("203.0.113.50", HTTP_X_FORWARDED_FOR=f"10.9.9.{i}"), f"d{i}@example.test")
            for i in range(2)
        ]

    assert (first.status_code, second.status_code, again.status_code) == (200, 200, 429)
    assert [r.status_code for r in forged] == [200, 429]
