"""A real `manage.py qcluster` serves a request end to end."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ticketing import services
from ticketing.models import TicketRequest, Transaction

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def database_url() -> str:
    """The test database as a DATABASE_URL a child process can open."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def qcluster():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "eventtix.settings_test", "DATABASE_URL": database_url()}
    env["EVENTTIX_DATA_DIR"] = str(settings.DATA_DIR)
    connection.close()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    # SIGTERM to the main process drains the cluster gracefully (not to its process group).
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout=60.0):
    """Poll until predicate() is true; the bound only keeps a broken run from hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_running_cluster_serves_a_request_and_logs_it(qcluster, buyer, vip, settings):
    if connection.vendor == "sqlite":
        assert connection.settings_dict["NAME"] != ":memory:"
    request = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    served = wait_for(lambda: TicketRequest.objects.get(pk=request.pk).status != "queued")
    if not served:
        qcluster.terminate()
        pytest.fail("the cluster did not serve the request:\n" + qcluster.communicate(timeout=30)[0][-3000:])
    request.refresh_from_db()
    assert request.status == "fulfilled"
    assert request.order.tickets.count() == 2
    # The drain task catches the CSV log up after serving.
    assert wait_for(lambda: not Transaction.objects.filter(csv_logged=False).exists())
    rows = services.read_transactions_csv(path=settings.TRANSACTIONS_CSV)
    mine = [r["kind"] for r in rows if r["request_id"] == str(request.pk)]
    assert mine == ["queued", "fulfilled"]
