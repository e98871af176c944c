"""Bots at the gate: log-in and sign-up throttled per client; one account's parallel requests
cannot beat the ticket limit or an idempotency key through the API."""

import time
from collections import Counter

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from conftest import requires_postgres
from ticketing.models import AuditEntry, TicketRequest
from ticketing.services import fastqueue
from ticketing.tests.processes import in_parallel

pytestmark = pytest.mark.django_db


def rates(**scoped):
    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scoped}
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged})


def login(email, password="wrong", **client_meta):
    body = {"email": email, "password": password}
    return APIClient().post("/api/auth/login", body, format="json", **client_meta)


def register(n, **client_meta):
    body = {"name": f"Bot {n}", "email": f"bot{n}@example.test", "password": "B0t-Passw0rd-Str0ng"}
    return APIClient().post("/api/auth/register", body, format="json", **client_meta)


def test_login_is_throttled_per_client_across_accounts(buyer, make_user):
    # Credential stuffing: one client trying many accounts is counted once, whatever the account.
    emails = [make_user().email for _ in range(4)]
    with rates(login="3/min"):
        statuses = [login(email, REMOTE_ADDR="203.0.113.7").status_code for email in emails]
        blocked = login(buyer.email, "Str0ng-Passw0rd!", REMOTE_ADDR="203.0.113.7")
        other_client = login(buyer.email, "Str0ng-Passw0rd!", REMOTE_ADDR="198.51.100.9")

    assert statuses == [401, 401, 401, 429]
    assert blocked.status_code == 429, "the right password does not lift the block"
    assert 0 < int(blocked["Retry-After"]) <= 60
    assert other_client.status_code == 200


def test_login_throttle_is_not_escaped_by_a_forged_forwarded_for_header(buyer):
    with rates(login="2/min"):
        statuses = [
            login(buyer.email, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
            for i in range(4)
        ]

    assert statuses == [401, 401, 429, 429]


def test_registration_is_throttled_per_client(settings):
    with rates(register="2/min"):
        statuses = [register(n, REMOTE_ADDR="203.0.113.7").status_code for n in range(4)]
        forged = register(10, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="10.9.9.9")
        other_client = register(11, REMOTE_ADDR="198.51.100.9")

    assert statuses == [201, 201, 429, 429]
    assert forged.status_code == 429
    assert int(forged["Retry-After"]) > 0
    assert other_client.status_code == 201
    assert get_user_model().objects.count() == 3


@pytest.fixture
def slow_limit_check(monkeypatch):
    # Widen the window between the buyer's lock and the write that reads what they hold (and
    # commits), so that without the per-user lock every parallel request would read the same total.
    real = fastqueue.join_queue

    def slow(*args, **kwargs):
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(fastqueue, "join_queue", slow)


def post_request(user, ticket_type_id, quantity, **headers):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    body = {"ticket_type_id": ticket_type_id, "quantity": quantity}
    response = api.post("/api/ticket-requests", body, format="json", **headers)
    return response.status_code, response.json()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_api_requests_from_one_account_cannot_beat_the_ticket_limit(
    buyer, make_event, slow_limit_check
):
    event = make_event(max_tickets_per_user=4)
    regular = event.ticket_types.get(name="Regular")

    answers = in_parallel(6, lambda: post_request(buyer, regular.pk, 2))

    assert Counter(status for status, _ in answers) == {202: 2, 400: 4}
    assert {body["code"] for status, body in answers if status == 400} == {"limit_exceeded"}
    held = TicketRequest.objects.filter(user=buyer).aggregate(n=Sum("quantity"))["n"]
    assert held == 4


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_api_requests_with_one_idempotency_key_create_one_request(buyer, regular, slow_limit_check):
    answers = in_parallel(6, lambda: post_request(buyer, regular.pk, 1, HTTP_IDEMPOTENCY_KEY="retry-7"))

    assert [status for status, _ in answers] == [202] * 6
    assert len({body["id"] for _, body in answers}) == 1
    assert TicketRequest.objects.filter(user=buyer).count() == 1
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.QUEUED).count() == 1
