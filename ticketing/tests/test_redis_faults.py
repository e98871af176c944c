"""Redis down or hung is not a failure for the buyer: each test starts its own Redis and breaks it.

Never the shared Redis: a private `redis-server` on a free port, stopped (SIGKILL) or paused
(SIGSTOP) by the test. The site's cache is pointed at it with override_settings.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.test import Client, override_settings
from django_q.conf import Conf
from rest_framework.test import APIClient

from conftest import as_user
from eventtix.cache import FailSoftRedisCache, count, count_first_with_room
from ticketing import tasks
from ticketing.models import TicketRequest
from ticketing.services import wakeups
from ticketing.tests.processes import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server on PATH"),
]


class PrivateRedis:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.resume()
        server.kill()


@pytest.fixture
def site_on(redis_server, monkeypatch):
    """The site's cache on the private Redis; the breaker retries Redis at once in these tests."""
    monkeypatch.setattr(FailSoftRedisCache, "RETRY_SECONDS", 0.0)
    caches_setting = {
        "default": {
            "BACKEND": "eventtix.cache.FailSoftRedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
        }
    }
    with override_settings(CACHES=caches_setting):
        caches["default"].clear_fallback()
        yield redis_server
        caches["default"].clear_fallback()


def test_the_cache_uses_redis_then_memory_while_it_is_down_then_redis_again(site_on):
    assert cache.add("k", "in redis") is True
    assert cache.get("k") == "in redis" and caches["default"].redis_available

    site_on.kill()
    assert cache.get("k") is None  # memory knows nothing of what Redis held
    assert cache.add("k", "in memory") is True and cache.add("k", "again") is False
    assert cache.get("k") == "in memory"
    assert not caches["default"].redis_available

    site_on.start()
    assert cache.get("k") is None  # Redis again (empty after its restart)
    assert caches["default"].redis_available


def test_a_hung_redis_costs_a_short_time_out_and_answers_from_memory(site_on):
    cache.set("k", 1)
    site_on.pause()
    assert cache.add("k", 2) is True  # from memory: Redis did not answer in time
    assert not caches["default"].redis_available
    site_on.resume()
    assert cache.get("k") == 1
    assert caches["default"].redis_available


def test_a_counter_counts_in_redis_with_its_expiry_then_in_memory_while_redis_is_down(site_on):
    site = caches["default"]
    # Through the proxy the rate limits use, as through the cache itself.
    assert [count(c, "n", timeout=60) for c in (cache, site, cache)] == [1, 2, 3]
    raw = site.client.get_client()
    assert 55 <= raw.ttl(site.make_key("n")) <= 60  # set by the first count, not moved by the next
    assert site.get("n") == 3  # the same key the cache reads

    site_on.kill()
    assert [count(site, "n", timeout=60) for _ in range(2)] == [1, 2]  # from memory
    site_on.start()
    assert count(site, "n", timeout=60) == 1  # Redis again (empty after its restart)


def test_the_first_counter_with_room_is_found_in_redis_then_in_memory_while_redis_is_down(site_on):
    site = caches["default"]
    keys = ["a", "b", "c"]
    # Two fit in each: the first two asks land in "a", the next two in "b" (counting "a" past its
    # room on the way), then "c"; when all three are full, None, each counted once more.
    got = [count_first_with_room(site, keys, most=2, timeout=60) for _ in range(7)]
    assert got == [0, 0, 1, 1, 2, 2, None]
    assert [site.get(k) for k in keys] == [7, 5, 3]
    raw = site.client.get_client()
    assert all(55 <= raw.ttl(site.make_key(k)) <= 60 for k in keys)  # each set by its first count

    site_on.kill()
    assert [count_first_with_room(site, keys, most=1, timeout=60) for _ in range(4)] == [0, 1, 2, None]
    site_on.start()
    assert count_first_with_room(site, keys, most=1, timeout=60) == 0  # Redis again, empty


def test_ticket_requests_pages_and_reads_answer_as_usual_with_redis_down(site_on, client, api, buyer, vip):
    site_on.kill()
    # The API: queued, 202, once.
    response = as_user(api, buyer).post(
        "/api/ticket-requests", {"ticket_type_id": vip.pk, "quantity": 1}, format="json"
    )
    assert response.status_code == 202, response.content
    assert TicketRequest.objects.filter(user=buyer).count() == 1
    request_id = response.json()["id"]
    assert api.get(f"/api/queue/position?request_id={request_id}").status_code == 200
    assert api.get("/api/events").status_code == 200
    assert api.get(f"/api/availability?event_id={vip.event_id}").status_code == 200
    # The pages: the event page takes a request from its form.
    client.force_login(buyer)
    page = client.get(f"/events/{vip.event_id}/")
    assert page.status_code == 200
    form = page.context["form"]
    posted = client.post(
        f"/events/{vip.event_id}/",
        {"ticket_type": vip.pk, "quantity": 1, "idempotency_key": form["idempotency_key"].value()},
    )
    assert posted.status_code == 302, posted.content
    assert TicketRequest.objects.filter(user=buyer).count() == 2
    assert client.get(posted.url).status_code == 200


def test_a_broker_that_fails_after_commit_still_answers_202_and_the_sweep_serves(
    site_on, api, buyer, vip, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(wakeups, "async_task", broker_down)
    response = as_user(api, buyer).post(
        "/api/ticket-requests", {"ticket_type_id": vip.pk, "quantity": 1}, format="json"
    )
    assert response.status_code == 202, response.content
    ticket_request = TicketRequest.objects.get(user=buyer)
    assert ticket_request.status == TicketRequest.Status.QUEUED

    monkeypatch.undo()  # the broker is back; the sweep asks it for the drain
    monkeypatch.setattr(Conf, "SYNC", True)
    tasks.sweep()
    ticket_request.refresh_from_db()
    assert ticket_request.status == TicketRequest.Status.FULFILLED


def test_with_redis_down_a_wake_up_marker_holds_back_only_for_a_moment(site_on, vip, monkeypatch):
    # The drain that clears a marker runs in another process, which cannot reach this process's
    # memory: a marker there must not hold back the next arrival's wake-up for WAKE_TTL.
    queued = []
    monkeypatch.setattr(wakeups, "async_task", lambda *args, **kwargs: queued.append(args))
    monkeypatch.setattr(wakeups, "LOCAL_WAKE_TTL", 0.2)
    site_on.kill()
    assert wakeups.request_drain(vip.event_id) is True
    assert wakeups.request_drain(vip.event_id) is False  # coalesced, as with Redis
    time.sleep(0.3)  # past LOCAL_WAKE_TTL, with no drain having cleared the marker
    assert wakeups.request_drain(vip.event_id) is True
    assert len(queued) == 2


def test_with_redis_down_lockouts_and_page_throttles_still_count_in_memory(site_on, buyer):
    # Fail safe (README, "Limits and lockout"): each process counts on in its own memory, so a
    # lockout and a throttle still stop a guesser, per process, instead of failing open.
    site_on.kill()
    body = {"email": buyer.email, "password": "wrong"}
    with override_settings(AXES_FAILURE_LIMIT=3):
        statuses = [
            APIClient(REMOTE_ADDR=f"203.0.113.{i}").post("/api/auth/login", body, format="json").status_code
            for i in range(3)
        ]
        right = {"username": buyer.email, "password": "Str0ng-Passw0rd!"}
        locked_page = Client(REMOTE_ADDR="198.51.100.9").post("/accounts/login/", right)
    assert statuses == [401, 401, 429]
    assert locked_page.status_code == 429 and "Too many attempts" in locked_page.content.decode()

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register": "1/min"}
    sign_up = {"name": "Bot", "email": "bot@example.test", "password": "B0t-Passw0rd-Str0ng"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        first = Client(REMOTE_ADDR="203.0.113.50").post(
            "/accounts/register/", {**sign_up, "password_again": "B0t-Passw0rd-Str0ng"}
        )
        second = Client(REMOTE_ADDR="203.0.113.50").post(
            "/accounts/register/",
            {**sign_up, "email": "bot2@example.test", "password_again": "B0t-Passw0rd-Str0ng"},
        )
    assert (first.status_code, second.status_code) == (302, 429)
    assert not caches["default"].redis_available
