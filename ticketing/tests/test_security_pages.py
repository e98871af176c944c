"""The pages: CSRF on every form, production's HTTPS settings and headers, and error pages
that give nothing away."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from ticketing import reports, selectors, services
from ticketing.models import Ticket, TicketRequest

pytestmark = pytest.mark.django_db

FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


@pytest.fixture
def world(buyer, door_staff, admin_user, event, vip, regular):
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)
    queued = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    ticket = Ticket.objects.get()
    uid = urlsafe_base64_encode(force_bytes(buyer.pk))
    return {
        "users": {"buyer": buyer, "door_staff": door_staff, "admin": admin_user},
        "event": event,
        "regular": regular,
        "queued": queued,
        "ticket": ticket,
        "door_list": services.default_list(event).pk,
        "reset": f"/accounts/password-reset/{uid}/{default_token_generator.make_token(buyer)}/",
    }


def forms_in(html: str, page: str):
    """(action, form HTML) of each POST form on a page; an empty action posts to the page."""
    for form in FORM.findall(html):
        opening = form[: form.index(">")]
        if re.search(r'method="post"', opening, re.I):
            action = re.search(r'action="([^"]*)"', opening)
            yield (action.group(1) if action and action.group(1) else page), form


# Every POST form of the site: (who, the page that shows it, where it posts, a valid submission).
def form_table(world):
    w = world
    return [
        (None, "/accounts/login/", "/accounts/login/", {"username": "alice@example.test", "password": "x"}),
        (None, "/accounts/register/", "/accounts/register/", {"name": "N", "email": "n@example.test"}),
        (None, "/accounts/password-reset/", "/accounts/password-reset/", {"email": "alice@example.test"}),
        (
            None,
            "RESET",
            "RESET",
            {"new_password1": "Brand-New-Passw0rd", "new_password2": "Brand-New-Passw0rd"},
        ),
        (None, "/admin/login/", "/admin/login/", {"username": "admin@example.test", "password": "x"}),
        # The footer's language switcher (Django's set_language), on every page of the site.
        (None, "/accounts/login/", "/i18n/setlang/", {"language": "de", "next": "/events/"}),
        ("buyer", "/events/", "/accounts/logout/", {}),
        (
            "buyer",
            f"/events/{w['event'].pk}/",
            f"/events/{w['event'].pk}/",
            {"ticket_type": w["regular"].pk, "quantity": 1},
        ),
        ("buyer", f"/requests/{w['queued'].pk}/", f"/requests/{w['queued'].pk}/cancel/", {}),
        (
            "door_staff",
            f"/door/{w['door_list']}/",
            f"/door/{w['door_list']}/",
            {"code": w["ticket"].qr_token},
        ),
    ]


PAGES_WITH_FORMS_TO_CRAWL = [
    "/events/",
    "/events/{event}/",
    "/requests/{queued}/",
    "/tickets/",
    "/door/",
    "/door/{door_list}/",
]


def client_for(world, who, **kwargs) -> Client:
    client = Client(**kwargs)
    if who:
        client.force_login(world["users"][who])
    return client


def reset_page(client, world) -> str:
    # The emailed link moves the token into the session and redirects to the form's own URL.
    return client.get(world["reset"])["Location"]


def test_every_post_form_on_the_site_carries_a_csrf_token_and_is_in_the_table(world):
    table = form_table(world)
    known = {action for _, _, action, _ in table}
    ids = {"event": world["event"].pk, "queued": world["queued"].pk, "door_list": world["door_list"]}
    pages = [p.format(**ids) for p in PAGES_WITH_FORMS_TO_CRAWL]
    found = set()
    for who, page, _, _ in table:
        client = client_for(world, who)
        crawl = [reset_page(client, world) if page == "RESET" else page]
        crawl += pages if who else []
        for url in crawl:
            response = client.get(url)
            if url != crawl[0] and response.status_code != 200:
                continue  # a page this caller may not open has no forms for them
            assert response.status_code == 200, url
            for action, form in forms_in(response.content.decode(), url):
                assert 'name="csrfmiddlewaretoken"' in form, (url, action)
                found.add("RESET" if "set-password" in action else action)

    assert found - known == set(), "a POST form the CSRF tests below do not cover"
    assert known - found == set(), "a form in the table was not found on its page"


@pytest.mark.parametrize("row", range(10))
def test_every_form_refuses_a_post_without_the_csrf_token_and_changes_nothing(world, row):
    who, page, action, data = form_table(world)[row]
    client = client_for(world, who, enforce_csrf_checks=True)
    if page == "RESET":
        page = action = reset_page(client, world)
    client.get(page)  # sets the CSRF cookie, as a browser visit would
    before = snapshot()

    forged = client.post(action, data)
    after_forged = snapshot()
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    genuine = client.post(action, {**data, "csrfmiddlewaretoken": token})

    assert forged.status_code == 403
    assert after_forged == before
    assert genuine.status_code != 403


def snapshot():
    """What a form post could change: requests, check-ins, accounts and their passwords."""
    User = get_user_model()
    return (
        sorted(TicketRequest.objects.values_list("pk", "status")),
        sorted(Ticket.objects.values_list("pk", "checked_in_at")),
        sorted(User.objects.values_list("pk", "email", "password")),
        len(mail.outbox),
    )


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/ticket-requests"),
        ("DELETE", "/api/ticket-requests/{queued}"),
        ("POST", "/api/tickets/checkin/{ticket}"),
    ],
)
def test_api_writes_through_a_browser_session_need_the_csrf_token(world, method, path):
    client = client_for(world, "admin", enforce_csrf_checks=True)
    url = path.format(queued=world["queued"].pk, ticket=world["ticket"].qr_token)
    body = f'{{"ticket_type_id": {world["regular"].pk}, "quantity": 1}}'

    response = client.generic(method, url, body, content_type="application/json")

    assert response.status_code == 403
    assert TicketRequest.objects.count() == 2
    assert TicketRequest.objects.get(pk=world["queued"].pk).status == "queued"
    assert Ticket.objects.get().checked_in_at is None


# Production settings


def test_production_settings_hold_with_debug_off():
    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SECURE_HSTS_SECONDS >= 31_536_000
    assert settings.SECURE_HSTS_INCLUDE_SUBDOMAINS and settings.SECURE_HSTS_PRELOAD
    assert settings.SECURE_CONTENT_TYPE_NOSNIFF
    assert settings.X_FRAME_OPTIONS == "DENY"
    assert settings.SECURE_REFERRER_POLICY == "same-origin"
    assert "*" not in settings.ALLOWED_HOSTS


def test_check_deploy_finds_nothing_once_https_redirects_are_on(monkeypatch):
    # The tests serve plain HTTP (SECURE_SSL_REDIRECT=false); production's default is on. The
    # browser tests' Playwright sets DJANGO_ALLOW_ASYNC_UNSAFE in this process, never in production.
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    with override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["tickets.example.org"]):
        call_command("check", "--deploy", "--fail-level", "WARNING")


def test_plain_http_is_sent_to_https_when_redirects_are_on():
    with override_settings(SECURE_SSL_REDIRECT=True):
        response = Client().get("/events/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/events/"


def test_pages_carry_the_security_headers_over_https(client):
    response = client.get("/events/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_session_and_csrf_cookies_are_secure_and_the_session_is_http_only(buyer):
    client = Client()
    client.get("/accounts/login/", secure=True)
    response = client.post(
        "/accounts/login/", {"username": buyer.email, "password": "Str0ng-Passw0rd!"}, secure=True
    )

    session = response.cookies[settings.SESSION_COOKIE_NAME]
    csrf = client.cookies[settings.CSRF_COOKIE_NAME]
    assert response.status_code == 302
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert csrf["secure"]


# Error pages


LEAKS = [
    "Traceback",
    "SECRET_KEY",
    settings.SECRET_KEY,
    "DATABASES",
    "settings.py",
    "site-packages",
    '.py"',
    "boom",
]


def assert_leaks_nothing(response):
    body = response.content.decode(errors="replace")
    for secret in LEAKS:
        assert secret not in body, secret
    assert str(settings.BASE_DIR) not in body


def explode(**kwargs):
    raise RuntimeError(f"boom: SECRET_KEY={settings.SECRET_KEY} DATABASES={settings.DATABASES}")


@pytest.mark.parametrize("path", ["/events/", "/api/events", "/dashboard/"])
def test_a_crash_is_a_plain_500_that_leaks_nothing(monkeypatch, admin_user, path):
    monkeypatch.setattr(selectors, "events_listed", explode)
    monkeypatch.setattr(reports, "dashboard_events", explode)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)

    response = client.get(path)

    assert response.status_code == 500
    assert_leaks_nothing(response)
    if path.startswith("/api/"):
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "server_error"
    else:
        assert response["Content-Type"].startswith("text/html")


def test_a_404_lists_no_url_patterns(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "URLconf" not in response.content.decode()
    assert "admin/" not in response.content.decode()
    assert_leaks_nothing(response)


def test_a_forged_host_header_is_a_plain_400(client):
    response = client.get("/events/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert "ALLOWED_HOSTS" not in response.content.decode()
    assert_leaks_nothing(response)


@pytest.mark.parametrize("path", ["/events/", "/tickets/", "/dashboard/"])
def test_pages_shown_to_a_logged_in_person_are_never_stored(client, admin_user, path):
    client.force_login(admin_user)

    response = client.get(path)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_public_pages_for_visitors_may_be_cached(client, event):
    assert "no-store" not in client.get("/events/").get("Cache-Control", "")


def test_every_page_carries_the_content_security_policy(client):
    policy = client.get("/events/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))

    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in directives["script-src"] + directives["default-src"]


def test_json_answers_carry_a_policy_that_allows_nothing(client, event):
    # A constant, not django-csp's policy built per answer; the browsable API is a page and gets the page's.
    assert (
        client.get("/api/events")["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    browsable = client.get("/api/events", HTTP_ACCEPT="text/html")["Content-Security-Policy"]
    assert "script-src 'self'" in browsable
    assert (
        client.get("/door/sw.js")["Content-Security-Policy"] != "default-src 'none'; frame-ancestors 'none'"
    )
