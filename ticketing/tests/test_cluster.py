"""A real `manage.py qcluster` serves a request end to end."""

import pytest
from django.db import connection

from ticketing import services
from ticketing.models import AuditEntry, TicketRequest
from ticketing.tests.csvfiles import read_csv
from ticketing.tests.processes import start_qcluster, stop_qcluster, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def csv_path(tmp_path, settings):
    settings.TRANSACTIONS_CSV = tmp_path / "transactions.csv"
    return settings.TRANSACTIONS_CSV


@pytest.fixture
def qcluster(csv_path):
    proc = start_qcluster(TRANSACTIONS_CSV=str(csv_path))
    yield proc
    stop_qcluster(proc)


def test_a_running_cluster_serves_a_request_and_logs_it(qcluster, csv_path, buyer, vip):
    assert connection.settings_dict["NAME"] != ":memory:"  # the cluster must see our database
    request = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    if not wait_for(lambda: TicketRequest.objects.get(pk=request.pk).status != "queued"):
        pytest.fail("the cluster did not serve the request:\n" + stop_qcluster(qcluster)[-3000:])
    request.refresh_from_db()
    assert request.status == "fulfilled"
    assert request.order.tickets.count() == 2
    # The drain task catches the CSV log up after serving.
    assert wait_for(lambda: not AuditEntry.objects.filter(csv_logged=False).exists())
    rows = read_csv(csv_path)
    assert [r["kind"] for r in rows if r["request_id"] == str(request.pk)] == ["queued", "fulfilled"]
