"""Account lockout: wrong passwords for one account, from any address and through any door (the
page log-in, the admin's, the API's), lock it for the cool-off; the right password then works."""

import io
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "Str0ng-Passw0rd!"
ADMIN_PASSWORD = "Adm1n-Passw0rd!"


@pytest.fixture(autouse=True)
def limit_of_three():
    # Under the log-in throttle's 10 a minute per email, so the lockout is what answers.
    with override_settings(AXES_FAILURE_LIMIT=3):
        yield


def address(i):
    return f"203.0.{i // 250}.{i % 250 + 1}"


def page_login(email, password="wrong", *, i=0, path="/accounts/login/"):
    client = Client(REMOTE_ADDR=address(i))
    return client, client.post(path, {"username": email, "password": password})


def api_login(email, password="wrong", *, i=0):
    body = {"email": email, "password": password}
    return APIClient(REMOTE_ADDR=address(i)).post("/api/auth/login", body, format="json")


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def assert_locked_page(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 15 * 60
    assert "Too many attempts. Try again in 15 minutes." in response.content.decode()


def test_wrong_passwords_from_many_addresses_lock_the_account_on_the_page(buyer, other_buyer):
    statuses = [page_login(buyer.email, i=i)[1].status_code for i in range(3)]
    client, locked = page_login(buyer.email, PASSWORD, i=10)

    assert statuses == [200, 200, 429]
    assert_locked_page(locked)
    assert not logged_in(client), "the right password does not open a locked account"
    client, other = page_login(other_buyer.email, PASSWORD, i=11)
    assert other.status_code == 302 and logged_in(client)


def test_the_email_is_counted_whatever_its_case(buyer):
    for i, typed in enumerate(["ALICE@example.test", " alice@EXAMPLE.test", "Alice@Example.Test"]):
        page_login(typed, i=i)

    assert_locked_page(page_login(buyer.email, PASSWORD, i=9)[1])


def test_wrong_passwords_lock_the_admin_log_in_with_its_standalone_page(admin_user):
    for i in range(3):
        page_login(admin_user.email, i=i, path="/admin/login/")
    client, locked = page_login(admin_user.email, ADMIN_PASSWORD, i=10, path="/admin/login/")

    assert_locked_page(locked)
    assert 'href="/events/"' in locked.content.decode() and "Log out" not in locked.content.decode()
    assert not logged_in(client)


def test_wrong_passwords_lock_the_api_log_in_with_a_json_429(buyer):
    statuses = [api_login(buyer.email, i=i).status_code for i in range(3)]
    locked = api_login(buyer.email, PASSWORD, i=10)

    assert statuses == [401, 401, 429]
    assert locked.status_code == 429
    assert locked.json() == {
        "detail": "Too many attempts. Try again in 15 minutes.",
        "code": "account_locked",
    }
    assert int(locked["Retry-After"]) == 15 * 60
    assert "access_token" not in locked.json()


def test_one_lock_for_every_door(buyer, admin_user):
    page_login(buyer.email, i=1)
    api_login(buyer.email, i=2)
    page_login(buyer.email, i=3, path="/admin/login/")

    assert api_login(buyer.email, PASSWORD, i=4).status_code == 429
    assert_locked_page(page_login(buyer.email, PASSWORD, i=5)[1])


@override_settings(AXES_COOLOFF_TIME=timedelta(seconds=1))
def test_the_right_password_works_again_after_the_cool_off(buyer):
    for i in range(3):
        api_login(buyer.email, i=i)
    assert api_login(buyer.email, PASSWORD, i=5).status_code == 429

    time.sleep(1.2)  # the lock's cache entry expires with the (here one second) cool-off

    assert api_login(buyer.email, PASSWORD, i=6).status_code == 200
    client, page = page_login(buyer.email, PASSWORD, i=7)
    assert page.status_code == 302 and logged_in(client)


def test_a_right_password_on_the_page_clears_the_failures(buyer):
    for i in range(2):
        page_login(buyer.email, i=i)
    assert page_login(buyer.email, PASSWORD, i=5)[1].status_code == 302
    for i in range(2):
        page_login(buyer.email, i=i)

    assert page_login(buyer.email, PASSWORD, i=6)[1].status_code == 302


def test_a_right_password_on_the_api_clears_the_failures(buyer):
    for i in range(2):
        api_login(buyer.email, i=i)
    assert api_login(buyer.email, PASSWORD, i=5).status_code == 200
    for i in range(2):
        api_login(buyer.email, i=i)

    assert api_login(buyer.email, PASSWORD, i=6).status_code == 200


def test_an_operator_lifts_a_lockout_with_axes_reset_username(buyer):
    for i in range(3):
        api_login(buyer.email, i=i)
    assert api_login(buyer.email, PASSWORD, i=5).status_code == 429

    call_command("axes_reset_username", buyer.email, stdout=io.StringIO())

    assert api_login(buyer.email, PASSWORD, i=6).status_code == 200
