"""A qcluster killed with SIGKILL mid-drain, again and again, loses nothing and oversells nothing."""

from collections import Counter, defaultdict

import pytest
from django.db.models import Sum
from django_q.conf import Conf

from conftest import requires_postgres
from events.models import TicketType
from ticketing import services
from ticketing.models import AuditEntry, Order, Ticket, TicketRequest
from ticketing.tests.csvfiles import read_csv
from ticketing.tests.processes import kill_qcluster, start_qcluster, stop_qcluster, wait_for

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]

KILLS = 3
MAX_CYCLES = 8
FLOOD = 200
# Small batches make the drain long enough to be killed in the middle of it many times.
CLUSTER_ENV = {"Q_BROKER": "orm", "DRAIN_BATCH_SIZE": "4", "Q_TIMEOUT": "20", "Q_RETRY": "25"}


def fulfilled_count():
    return TicketRequest.objects.filter(status="fulfilled").count()


def decided_count():
    return TicketRequest.objects.exclude(status="queued").count()


def test_sigkilled_cluster_loses_nothing(make_user, make_event, monkeypatch, settings, tmp_path):
    settings.TRANSACTIONS_CSV = tmp_path / "transactions.csv"
    cluster_env = {**CLUSTER_ENV, "TRANSACTIONS_CSV": str(settings.TRANSACTIONS_CSV)}
    # The ORM broker is the at-least-once one; this process queues its wake-ups there too.
    monkeypatch.setattr(Conf, "ORM", "default")
    event = make_event(vip=150, regular=450, max_tickets_per_user=4)
    types = list(event.ticket_types.all())
    users = iter([make_user() for _ in range(MAX_CYCLES * FLOOD // 4 + 1) for _ in range(4)])

    def flood():
        # Buyers keep coming while the cluster is down; their wake-ups wait in the broker.
        for i in range(FLOOD):
            services.enqueue_request(user=next(users), ticket_type_id=types[i % 2].pk, quantity=1)

    # Kill as soon as a restarted cluster has made progress; a cycle in which the cluster
    # emptied the queue before the kill landed (a starved test process) does not count.
    kills_mid_drain = cycles = 0
    while kills_mid_drain < KILLS:
        cycles += 1
        assert cycles <= MAX_CYCLES, f"only {kills_mid_drain} kills landed mid-drain in {MAX_CYCLES} tries"
        flood()
        before = decided_count()
        cluster = start_qcluster(**cluster_env)
        progressed = wait_for(lambda n=before: decided_count() > n, timeout=90, interval=0.01)
        kill_qcluster(cluster)
        assert progressed, f"no progress in cycle {cycles}:\n{cluster.stdout.read()[-3000:]}"
        kills_mid_drain += TicketRequest.objects.filter(status="queued").exists()

    cluster = start_qcluster(**cluster_env)
    try:
        assert wait_for(lambda: not TicketRequest.objects.filter(status="queued").exists(), timeout=120)
        assert wait_for(lambda: not AuditEntry.objects.filter(csv_logged=False).exists(), timeout=60)
    finally:
        stop_qcluster(cluster)

    for t in TicketType.objects.filter(event=event):
        fulfilled = TicketRequest.objects.filter(ticket_type=t, status="fulfilled").aggregate(
            n=Sum("quantity")
        )
        assert t.sold <= t.capacity
        assert t.sold == fulfilled["n"] == Ticket.objects.filter(ticket_type=t).count()
    assert Order.objects.count() == fulfilled_count()
    per_request = defaultdict(Counter)
    for request_id, kind in AuditEntry.objects.values_list("request_id", "kind"):
        per_request[request_id][kind] += 1
    assert len(per_request) == TicketRequest.objects.count() == cycles * FLOOD
    assert all(c["queued"] == 1 and c["fulfilled"] + c["rejected"] == 1 for c in per_request.values())
    logged = [int(row["transaction_id"]) for row in read_csv(settings.TRANSACTIONS_CSV)]
    assert sorted(logged) == list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
