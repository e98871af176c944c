"""Overload is shed, not queued blindly: a new ticket request that waited too long, or whose client
has hung up, is refused fast and writes nothing, while buyers already queued are still answered."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from conftest import as_user
from eventtix import load
from ticketing import services
from ticketing.models import AuditEntry, TicketRequest
from ticketing.tests.processes import database_url, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def join(api, buyer, ticket_type, **extra):
    return as_user(api, buyer).post(
        "/api/ticket-requests", {"ticket_type_id": ticket_type.pk, "quantity": 1}, format="json", **extra
    )


@pytest.fixture
def waited(settings):
    """Pretend the web server kept this thread's request queued for `seconds`."""
    settings.EVENTTIX_SHED_AFTER_S = 2.0

    def wait(seconds):
        load.queued(time.monotonic() - seconds)

    yield wait
    load.queued(None)


@pytest.mark.django_db
def test_a_ticket_request_that_waited_too_long_is_refused_fast_and_writes_nothing(
    api, client, buyer, other_buyer, vip, waited
):
    mine = services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)
    audit = AuditEntry.objects.count()
    waited(5.0)

    response = join(api, buyer, vip)
    assert response.status_code == 503
    assert response.json()["code"] == "overloaded"
    assert 2 <= int(response["Retry-After"]) <= 5
    client.force_login(buyer)
    page = client.post(f"/events/{vip.event_id}/", {"ticket_type": vip.pk, "quantity": 1})
    assert page.status_code == 503 and "did not queue this one" in page.content.decode()
    assert not TicketRequest.objects.filter(user=buyer).exists()
    assert AuditEntry.objects.count() == audit

    # Buyers already in the queue are still answered, however long they waited.
    as_user(api, other_buyer)
    assert api.get(f"/api/queue/position?request_id={mine.pk}").status_code == 200
    assert api.get("/api/ticket-requests").status_code == 200
    client.force_login(other_buyer)
    assert client.get(mine.get_absolute_url()).status_code == 200
    assert client.get(f"/events/{vip.event_id}/").status_code == 200


@pytest.mark.django_db
def test_a_short_wait_is_served(api, buyer, vip, waited):
    waited(0.5)
    assert join(api, buyer, vip).status_code == 202


@pytest.mark.django_db
def test_a_ticket_request_whose_client_hung_up_is_not_queued(api, buyer, vip):
    server_side, client_side = socket.socketpair()
    client_side.close()  # the client gave up before its request was handled
    try:
        response = join(api, buyer, vip, **{"gunicorn.socket": server_side})
    finally:
        server_side.close()
    assert response.status_code == 499
    assert not TicketRequest.objects.exists()

    server_side, client_side = socket.socketpair()
    try:
        assert join(api, buyer, vip, **{"gunicorn.socket": server_side}).status_code == 202
    finally:
        server_side.close()
        client_side.close()


def post(url, body, token):
    request = urllib.request.Request(
        url,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shed_after, expected", [("0", 503), ("30", 202)])
def test_gunicorn_with_the_eventtix_worker_feeds_the_wait_to_the_middleware(
    buyer, vip, tmp_path, settings, shed_after, expected
):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "eventtix.settings_test",
        "DATABASE_URL": database_url(),
        "EVENTTIX_DATA_DIR": str(settings.DATA_DIR),
        "SHED_AFTER_S": shed_after,
    }
    connections.close_all()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "eventtix.wsgi", "--bind", f"127.0.0.1:{port}",
         "--worker-class", "eventtix.gunicorn_worker.ThreadWorker", "--threads", "2",
         "--workers", "1", "--no-control-socket"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        site = f"http://127.0.0.1:{port}"

        def answers():
            try:
                return urllib.request.urlopen(f"{site}/api/events", timeout=2).status == 200
            except OSError:
                return False

        assert wait_for(answers, timeout=30)
        status, headers = post(f"{site}/api/ticket-requests", {"ticket_type_id": vip.pk, "quantity": 1},
                               str(AccessToken.for_user(buyer)))  # fmt: skip
        assert status == expected
        if expected == 503:
            assert int(headers["Retry-After"]) >= 2
            assert not TicketRequest.objects.exists()
        else:
            assert TicketRequest.objects.filter(user=buyer).count() == 1
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
