"""The CSV transaction log holds every committed transaction exactly once."""

import threading
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet

from conftest import requires_postgres
from ticketing import selectors, services
from ticketing.models import AuditEntry
from ticketing.services import csvlog
from ticketing.tests.csvfiles import read_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_path(tmp_path, settings):
    settings.TRANSACTIONS_CSV = tmp_path / "transactions.csv"
    return settings.TRANSACTIONS_CSV


read_rows = read_csv


def logged_ids(path):
    return [int(row["transaction_id"]) for row in read_rows(path)]


def all_ids():
    return list(AuditEntry.objects.order_by("id").values_list("id", flat=True))


def make_activity(make_user, ticket_type, n):
    for _ in range(n):
        services.enqueue_request(user=make_user(), ticket_type_id=ticket_type.pk, quantity=1)
    services.drain_event_queue(event_id=ticket_type.event_id)


def make_entries(n):
    return [AuditEntry.objects.create(kind="queued", quantity=1).pk for _ in range(n)]


@contextmanager
def killed_when_marking():
    """Make the flush run inside die after its round is written, before its rows are marked logged."""
    real_update = QuerySet.update

    def update(self, **kwargs):
        if self.model is AuditEntry and kwargs.get("csv_logged") is True:
            raise SystemExit("killed after the write, before the mark")
        return real_update(self, **kwargs)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit):
        patch.setattr(QuerySet, "update", update)
        yield


@contextmanager
def uncommitted_entries(n):
    """Insert n entries in another connection's open transaction; commit them on leaving."""
    inserted, release, ids, errors = threading.Event(), threading.Event(), [], []

    def hold():
        try:
            with transaction.atomic():
                ids.extend(make_entries(n))
                inserted.set()
                release.wait(30)
        except Exception as e:  # surfaced by the test thread below
            errors.append(e)
        finally:
            inserted.set()
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert inserted.wait(30) and not errors, errors
        yield ids
    finally:
        release.set()
        thread.join(30)
    assert not thread.is_alive() and not errors, errors


def test_flush_writes_a_header_and_every_transaction_in_order(make_user, regular, log_path):
    make_activity(make_user, regular, 3)
    assert services.flush_transactions_csv() == 6
    with open(log_path) as f:
        assert f.readline().strip() == ",".join(csvlog.COLUMNS)
    assert logged_ids(log_path) == all_ids()
    rows = read_rows(log_path)
    assert [r["kind"] for r in rows] == ["queued"] * 3 + ["fulfilled"] * 3
    assert rows[0]["ticket_type"] == "Regular"


def test_flushing_again_writes_nothing_new(make_user, regular, log_path):
    make_activity(make_user, regular, 2)
    services.flush_transactions_csv()
    assert services.flush_transactions_csv() == 0
    make_activity(make_user, regular, 1)
    assert services.flush_transactions_csv() == 2
    ids = logged_ids(log_path)
    assert len(ids) == len(set(ids)) == AuditEntry.objects.count()


def test_a_crash_between_writing_and_marking_does_not_duplicate(make_user, regular, log_path):
    make_activity(make_user, regular, 3)
    with killed_when_marking():
        services.flush_transactions_csv()
    assert AuditEntry.objects.filter(csv_logged=False).count() == 6
    assert services.flush_transactions_csv() == 6
    assert logged_ids(log_path) == all_ids()
    with open(log_path) as f:
        assert f.read().count(csvlog.COLUMNS[0]) == 1  # the header too is written once


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_crash_then_lower_ids_committing_late_duplicates_nothing(log_path, monkeypatch):
    # PostgreSQL hands out ids at insert: the late entries hold the lowest ids but commit last.
    monkeypatch.setattr(csvlog, "BATCH", 4)
    with uncommitted_entries(3) as late:
        early = make_entries(4)
        assert max(late) < min(early)
        with killed_when_marking():
            services.flush_transactions_csv()
        assert logged_ids(log_path) == early
    written = services.flush_transactions_csv()
    ids = logged_ids(log_path)
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert ids == late + early
    assert written == 7
    assert not AuditEntry.objects.filter(csv_logged=False).exists()


def test_a_crash_after_marking_before_closing_the_round_loses_and_repeats_nothing(
    make_user, regular, log_path, monkeypatch
):
    make_activity(make_user, regular, 2)

    def killed(*args, **kwargs):
        raise SystemExit("killed after the mark, before the journal was removed")

    monkeypatch.setattr(csvlog, "_close_round", killed)
    with pytest.raises(SystemExit):
        services.flush_transactions_csv()
    monkeypatch.undo()
    assert csvlog._journal_path(log_path).exists()
    assert not AuditEntry.objects.filter(csv_logged=False).exists()
    make_activity(make_user, regular, 1)
    assert services.flush_transactions_csv() == 2
    assert logged_ids(log_path) == all_ids()
    assert not csvlog._journal_path(log_path).exists()


def test_a_torn_last_line_is_replaced_by_the_whole_row(make_user, regular, log_path, monkeypatch):
    make_activity(make_user, regular, 1)
    services.flush_transactions_csv()
    before = log_path.read_bytes()
    make_activity(make_user, regular, 2)
    real_append = csvlog._append

    def torn(f, rows):
        real_append(f, rows[:1])
        f.write(f"{rows[1][0]},2026-11-")  # the process dies mid-line
        f.flush()
        raise SystemExit("killed mid-write")

    monkeypatch.setattr(csvlog, "_append", torn)
    with pytest.raises(SystemExit):
        services.flush_transactions_csv()
    monkeypatch.undo()
    assert log_path.read_bytes().startswith(before)
    assert not log_path.read_bytes().endswith(b"\n")
    assert services.flush_transactions_csv() == 4
    assert logged_ids(log_path) == all_ids()
    with open(log_path) as f:
        assert all(line.count(",") == len(csvlog.COLUMNS) - 1 for line in f)


def test_a_transaction_committed_late_with_a_lower_id_is_still_logged(make_user, regular, log_path):
    make_activity(make_user, regular, 2)
    services.flush_transactions_csv()
    # A slow transaction that took its id early commits after the flush that logged higher ids.
    late = AuditEntry.objects.order_by("id").first()
    AuditEntry.objects.filter(pk=late.pk).update(csv_logged=False)
    with open(log_path) as f:
        kept = [line for line in f if not line.startswith(f"{late.pk},")]
    log_path.write_text("".join(kept))
    services.flush_transactions_csv()
    ids = logged_ids(log_path)
    assert ids[-1] == late.pk
    assert sorted(ids) == all_ids()


def test_large_backlogs_are_written_in_rounds(make_user, regular, log_path, monkeypatch):
    monkeypatch.setattr(csvlog, "BATCH", 4)
    make_activity(make_user, regular, 5)
    assert services.flush_transactions_csv() == 10
    assert logged_ids(log_path) == all_ids()


def test_the_log_keeps_the_ids_of_a_buyer_and_event_deleted_since(make_user, regular, log_path):
    buyer = make_user()
    # Written directly: a buyer or event with requests cannot be deleted, but one without can.
    AuditEntry.objects.create(
        kind="queued", event_id=regular.event_id, ticket_type=regular, user=buyer, quantity=1
    )
    buyer_id, event_id, type_id = buyer.pk, regular.event_id, regular.pk
    buyer.delete()
    regular.event.delete()
    assert services.flush_transactions_csv() == 1
    rows = read_rows(log_path)
    # The ticket type's name went with it; the ids stay.
    assert [(r["user_id"], r["event_id"], r["ticket_type_id"], r["ticket_type"]) for r in rows] == [
        (str(buyer_id), str(event_id), str(type_id), "")
    ]
    # What reads the entries back shows a dash for what is gone.
    assert [t.user for t in selectors.recent_transactions()] == [None]


def test_a_log_with_older_columns_is_set_aside_and_a_new_one_started(make_user, regular, log_path):
    log_path.write_text("transaction_id,timestamp,kind\n1,2026-01-01T00:00:00+00:00,queued\n")
    services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
    csvlog.flush_transactions_csv(path=log_path)
    old = log_path.with_name(f"{log_path.stem}.1{log_path.suffix}")
    assert old.read_text().startswith("transaction_id,timestamp,kind\n1,")
    with open(log_path, encoding="utf-8") as f:
        assert f.readline().strip() == ",".join(csvlog.COLUMNS)
    assert len(read_rows(log_path)) == 1


def test_a_refund_is_logged_with_its_amount_and_the_staff_who_recorded_it(
    make_user, admin_user, regular, log_path
):
    buyer = make_user()
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=2)
    services.drain_event_queue(event_id=regular.event_id)
    order = buyer.orders.get()
    services.record_refund(user=admin_user, order_id=order.pk, amount=Decimal("30.00"), reason="goodwill")
    csvlog.flush_transactions_csv(path=log_path)
    [refund] = [row for row in read_rows(log_path) if row["kind"] == "refunded"]
    assert (refund["amount"], refund["actor_id"], refund["order_id"]) == (
        "30.00",
        str(admin_user.pk),
        str(order.pk),
    )
    assert refund["reason"] == "goodwill" and refund["user_id"] == str(buyer.pk)
