"""A qcluster killed with SIGKILL mid-drain, again and again, loses nothing and oversells nothing."""

from collections import Counter, defaultdict

import pytest
from django.db.models import Sum
from django_q.conf import Conf

from conftest import requires_postgres
from events.models import TicketType
from ticketing import services
from ticketing.models import Order, Ticket, TicketRequest, Transaction
from ticketing.tests.processes import kill_qcluster, start_qcluster, stop_qcluster, wait_for

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]

KILLS = 3
# Small batches make the drain long enough to be killed in the middle of it many times.
CLUSTER_ENV = {"Q_BROKER": "orm", "DRAIN_BATCH_SIZE": "8", "Q_TIMEOUT": "20", "Q_RETRY": "25"}


def fulfilled_count():
    return TicketRequest.objects.filter(status="fulfilled").count()


def test_sigkilled_cluster_loses_nothing(make_user, make_event, monkeypatch, settings, tmp_path):
    settings.TRANSACTIONS_CSV = tmp_path / "transactions.csv"
    cluster_env = {**CLUSTER_ENV, "TRANSACTIONS_CSV": str(settings.TRANSACTIONS_CSV)}
    # The ORM broker is the at-least-once one; this process queues its wake-ups there too.
    monkeypatch.setattr(Conf, "ORM", "default")
    event = make_event(vip=150, regular=450, max_tickets_per_user=4)
    types = list(event.ticket_types.all())
    users = [make_user() for _ in range(220)]

    def flood(start, stop):
        for i in range(start, stop):
            services.enqueue_request(user=users[i % len(users)], ticket_type_id=types[i % 2].pk, quantity=1)

    flood(0, 700)
    served_before = 0
    for kill in range(KILLS):
        cluster = start_qcluster(**cluster_env)
        progressed = wait_for(lambda n=served_before: fulfilled_count() >= n + 40, timeout=60)
        kill_qcluster(cluster)
        assert progressed, f"no progress before kill {kill + 1}:\n{cluster.stdout.read()[-3000:]}"
        served_before = fulfilled_count()
        assert TicketRequest.objects.filter(status="queued").exists(), (
            "killed too late: nothing left to drain"
        )
        # Buyers keep coming while the cluster is down; their wake-ups wait in the broker.
        flood(700 + kill * 40, 740 + kill * 40)

    cluster = start_qcluster(**cluster_env)
    try:
        assert wait_for(lambda: not TicketRequest.objects.filter(status="queued").exists(), timeout=120)
        assert wait_for(lambda: not Transaction.objects.filter(csv_logged=False).exists(), timeout=60)
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
    for request_id, kind in Transaction.objects.values_list("request_id", "kind"):
        per_request[request_id][kind] += 1
    assert len(per_request) == TicketRequest.objects.count() == 820
    assert all(c["queued"] == 1 and c["fulfilled"] + c["rejected"] == 1 for c in per_request.values())
    logged = [
        int(row["transaction_id"]) for row in services.read_transactions_csv(path=settings.TRANSACTIONS_CSV)
    ]
    assert sorted(logged) == list(Transaction.objects.order_by("id").values_list("id", flat=True))
