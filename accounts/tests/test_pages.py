"""Log in, register, log out and password reset pages."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "Str0ng-Passw0rd!"


def register(client, **fields):
    data = {"name": "Carol", "email": "carol@example.test", "password": PASSWORD, "password_again": PASSWORD}
    return client.post(reverse("register"), {**data, **fields})


def test_login_page_has_labelled_fields(client):
    body = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">Email address</label>' in body
    assert '<label for="id_password">Password</label>' in body


def test_login_brings_the_buyer_back_to_next(client, buyer):
    response = client.post(
        reverse("login"), {"username": buyer.email, "password": PASSWORD, "next": "/events/1/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/events/1/"
    assert client.get("/tickets/").status_code == 200


def test_login_with_a_wrong_password_says_so(client, buyer):
    response = client.post(reverse("login"), {"username": buyer.email, "password": "wrong"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "enter a correct email address and password" in body
    # The truth about case: the email address is found whatever its case.
    assert "the email address is not" in body and "both fields may be case-sensitive" not in body
    upper = Client().post(reverse("login"), {"username": buyer.email.upper(), "password": PASSWORD})
    assert upper.status_code == 302


def test_login_needs_the_csrf_token(buyer):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": buyer.email, "password": PASSWORD})
    assert response.status_code == 403


def test_register_creates_the_account_and_logs_in(client):
    response = register(client, next="/events/")
    user = get_user_model().objects.get(email="carol@example.test")
    assert response.status_code == 302
    assert response["Location"] == "/events/"
    assert user.name == "Carol"
    assert client.get("/tickets/").status_code == 200


def test_register_ignores_a_next_on_another_host(client):
    response = register(client, next="https://evil.example/")
    assert response["Location"] == reverse("events:list")


def test_register_shows_the_service_refusals_by_field(client, buyer):
    response = register(client, email=buyer.email, password="12345678", password_again="12345678")
    errors = response.context["form"].errors
    assert response.status_code == 400
    assert errors["email"] == ["An account with this email address already exists."]
    assert any("too common" in e for e in errors["password"])


def test_register_needs_matching_passwords(client):
    response = register(client, password_again="Other-Passw0rd!")
    assert response.status_code == 400
    assert response.context["form"].errors["password_again"] == ["The two passwords differ."]
    assert not get_user_model().objects.filter(email="carol@example.test").exists()


def test_register_needs_the_csrf_token():
    response = register(Client(enforce_csrf_checks=True))
    assert response.status_code == 403
    assert not get_user_model().objects.exists()


def test_logged_in_user_visiting_register_is_sent_on(client, buyer):
    client.force_login(buyer)
    assert client.get(reverse("register")).status_code == 302


def test_logout_is_a_post_and_ends_the_session(client, buyer):
    client.force_login(buyer)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("events:list")
    assert client.get("/tickets/").status_code == 302


def test_logout_needs_the_csrf_token(buyer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    assert client.post(reverse("logout")).status_code == 403


def test_password_reset_mails_a_link_that_sets_a_new_password(client, buyer):
    response = client.post(reverse("password_reset"), {"email": buyer.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [buyer.email]
    assert mail.outbox[0].subject == "Reset your EventTix password"
    link = re.search(r"https?://[^/\s]+(/accounts/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]
    new = "An0ther-Passw0rd!"
    response = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    buyer.refresh_from_db()
    assert buyer.check_password(new)


def test_password_reset_for_an_unknown_address_sends_nothing(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_door_only_staff_land_on_the_door_page_after_logging_in(client, door_staff):
    response = client.post(reverse("login"), {"username": door_staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("ticketing:door")


def test_door_staff_with_a_next_go_there(client, door_staff):
    data = {"username": door_staff.email, "password": PASSWORD, "next": "/events/"}
    assert client.post(reverse("login"), data)["Location"] == "/events/"


@pytest.mark.parametrize("who", ["buyer", "staff_at_the_door"])
def test_buyers_and_staff_land_on_the_events_list_after_logging_in(client, buyer, door_staff, who):
    user = buyer
    if who == "staff_at_the_door":
        door_staff.is_staff = True
        door_staff.save(update_fields=["is_staff"])
        user = door_staff
    response = client.post(reverse("login"), {"username": user.email, "password": PASSWORD})
    assert response["Location"] == reverse("events:list")


def test_the_language_a_person_logs_in_with_or_switches_to_is_kept_for_their_emails(client, buyer):
    client.post(
        "/accounts/login/",
        {"username": buyer.email, "password": "Str0ng-Passw0rd!"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    buyer.refresh_from_db()
    assert buyer.language == "es"
    client.post("/i18n/setlang/", {"language": "de", "next": "/events/"})
    buyer.refresh_from_db()
    assert buyer.language == "de"
    # A language EventTix does not speak is not kept.
    client.post("/i18n/setlang/", {"language": "xx", "next": "/events/"})
    buyer.refresh_from_db()
    assert buyer.language == "de"
