"""No wait on the database is unbounded: a lock held too long is a fast "busy" (503), never a hang.

The PostgreSQL tests hold a lock from a second connection, as a stalled drain or request would,
and keep the time-outs short so that they run quickly.
"""

import psycopg
import pytest
from django.db import OperationalError, connection
from django_q.conf import Conf

from conftest import as_user, requires_postgres
from ticketing import services, tasks
from ticketing.models import AuditEntry, TicketRequest
from ticketing.services import fastpath, wakeups

pytestmark = pytest.mark.django_db(transaction=True)


def post_request(api, buyer, ticket_type, key="k1"):
    return as_user(api, buyer).post(
        "/api/ticket-requests",
        {"ticket_type_id": ticket_type.pk, "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


@pytest.fixture
def holder():
    """A second connection to the test database, to hold locks with."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**{k: v for k, v in params.items() if k != "server_side_binding"})
    yield conn
    conn.rollback()
    conn.close()


@pytest.fixture
def short_lock_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '300ms'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


@requires_postgres
def test_connections_bound_every_wait():
    with connection.cursor() as cursor:
        shown = {}
        for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout"):
            cursor.execute(f"SHOW {name}")
            shown[name] = cursor.fetchone()[0]
    assert shown == {
        "lock_timeout": "3s",
        "statement_timeout": "30s",
        "idle_in_transaction_session_timeout": "10s",
    }


@requires_postgres
def test_joining_behind_a_held_lock_is_a_fast_503_and_writes_nothing(
    api, buyer, other_buyer, vip, holder, short_lock_timeout
):
    assert post_request(api, other_buyer, vip, key="first").status_code == 202
    audit_before = AuditEntry.objects.count()
    # A stalled writer holds the type's counter, which every arrival of the type must take.
    holder.execute("SELECT 1 FROM ticketing_tickettypecounter WHERE ticket_type_id = %s FOR UPDATE", [vip.pk])

    response = post_request(api, buyer, vip)

    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert "try again" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    assert not TicketRequest.objects.filter(user=buyer).exists()
    assert AuditEntry.objects.count() == audit_before

    holder.rollback()  # the holder goes (or the database ends it); the same retry now works
    assert post_request(api, buyer, vip).status_code == 202
    assert TicketRequest.objects.filter(user=buyer).count() == 1


@requires_postgres
def test_a_drain_behind_a_held_lock_rolls_back_and_is_queued_again(
    buyer, vip, holder, short_lock_timeout, monkeypatch
):
    queued = []
    monkeypatch.setattr(wakeups, "async_task", lambda *args, **kwargs: queued.append(args))
    from ticketing import services

    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    queued.clear()
    holder.execute("SELECT 1 FROM events_tickettype WHERE id = %s FOR UPDATE", [vip.pk])

    assert tasks.drain_event(vip.event_id) == {"busy": True}
    assert TicketRequest.objects.get().status == TicketRequest.Status.QUEUED
    assert queued == [("ticketing.tasks.drain_event", vip.event_id)]

    holder.rollback()
    monkeypatch.setattr(Conf, "SYNC", True)
    tasks.drain_event(vip.event_id)
    assert TicketRequest.objects.get().status == TicketRequest.Status.FULFILLED


@requires_postgres
def test_a_join_frees_the_queue_counters_with_its_statement(holder, buyer, vip, monkeypatch):
    # The join's one write goes with its COMMIT: while the web process is still inside the atomic
    # block, another connection can already lock the counters and sees the request committed.
    seen = {}
    real = fastpath.execute_and_commit

    def then_look(cursor, sql, params):
        real(cursor, sql, params)
        seen["counter"] = holder.execute(
            "SELECT arrived FROM ticketing_queuecounter WHERE event_id = %s FOR UPDATE NOWAIT",
            [vip.event_id],
        ).fetchall()
        seen["type counter"] = holder.execute(
            "SELECT queued FROM ticketing_tickettypecounter WHERE ticket_type_id = %s FOR UPDATE NOWAIT",
            [vip.pk],
        ).fetchall()
        seen["requests"] = holder.execute(
            "SELECT count(*) FROM ticketing_ticketrequest WHERE user_id = %s", [buyer.pk]
        ).fetchone()[0]
        holder.rollback()

    monkeypatch.setattr(fastpath, "execute_and_commit", then_look)
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)

    assert seen == {"counter": [(1,)], "type counter": [(1,)], "requests": 1}
    assert AuditEntry.objects.filter(kind="queued").count() == 1


def test_a_busy_database_is_a_503_for_the_api_and_the_pages(api, client, buyer, vip, monkeypatch):
    from ticketing import services

    def busy(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "enqueue_request", busy)
    response = post_request(api, buyer, vip)
    assert response.status_code == 503 and response.json()["code"] == "busy"
    assert response["Retry-After"]

    client.force_login(buyer)
    page = client.post(f"/events/{vip.event_id}/", {"ticket_type": vip.pk, "quantity": 1})
    assert page.status_code == 503 and page["Retry-After"]
    assert "nothing was saved" in page.content.decode()


def test_other_database_errors_are_not_called_busy(api, buyer, vip, monkeypatch):
    from ticketing import services

    def broken(**kwargs):
        raise OperationalError("no such table: nonsense")

    monkeypatch.setattr(services, "enqueue_request", broken)
    api.raise_request_exception = False
    assert post_request(api, buyer, vip).status_code == 500
