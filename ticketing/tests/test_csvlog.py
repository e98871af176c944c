"""The CSV transaction log holds every committed transaction exactly once."""

import csv

import pytest

from ticketing import selectors, services
from ticketing.models import AuditEntry
from ticketing.services import csvlog

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_path(tmp_path, settings):
    settings.TRANSACTIONS_CSV = tmp_path / "transactions.csv"
    return settings.TRANSACTIONS_CSV


def logged_ids(path):
    with open(path, newline="") as f:
        return [int(row["transaction_id"]) for row in csv.DictReader(f)]


def make_activity(make_user, ticket_type, n):
    for _ in range(n):
        services.enqueue_request(user=make_user(), ticket_type_id=ticket_type.pk, quantity=1)
    services.drain_event_queue(event_id=ticket_type.event_id)


def test_flush_writes_a_header_and_every_transaction_in_order(make_user, regular, log_path):
    make_activity(make_user, regular, 3)
    assert services.flush_transactions_csv() == 6
    with open(log_path) as f:
        assert f.readline().strip() == ",".join(csvlog.COLUMNS)
    assert logged_ids(log_path) == list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    rows = services.read_transactions_csv()
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


def test_a_crash_between_writing_and_marking_does_not_duplicate(make_user, regular, log_path, monkeypatch):
    make_activity(make_user, regular, 3)
    real_filter = AuditEntry.objects.filter

    def crash_on_mark(*args, **kwargs):
        if "pk__in" in kwargs:
            raise SystemExit("killed after the write, before the mark")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(AuditEntry.objects, "filter", crash_on_mark)
    with pytest.raises(SystemExit):
        services.flush_transactions_csv()
    monkeypatch.undo()
    assert AuditEntry.objects.filter(csv_logged=False).count() == 6
    services.flush_transactions_csv()
    assert logged_ids(log_path) == list(AuditEntry.objects.order_by("id").values_list("id", flat=True))


def test_a_torn_last_line_is_replaced_by_the_whole_row(make_user, regular, log_path, monkeypatch):
    make_activity(make_user, regular, 2)
    real_append = csvlog._append

    def torn(path, rows):
        real_append(path, rows[:1])
        with open(path, "a") as f:
            f.write(f"{rows[1][0]},2026-11-")  # the process dies mid-line

        raise SystemExit("killed mid-write")

    monkeypatch.setattr(csvlog, "_append", torn)
    with pytest.raises(SystemExit):
        services.flush_transactions_csv()
    monkeypatch.undo()
    services.flush_transactions_csv()
    assert logged_ids(log_path) == list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
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
    assert sorted(logged_ids(log_path)) == list(
        AuditEntry.objects.order_by("id").values_list("id", flat=True)
    )


def test_large_backlogs_are_written_in_rounds(make_user, regular, log_path, monkeypatch):
    monkeypatch.setattr(csvlog, "BATCH", 4)
    make_activity(make_user, regular, 5)
    assert services.flush_transactions_csv() == 10
    assert logged_ids(log_path) == list(AuditEntry.objects.order_by("id").values_list("id", flat=True))


def test_the_audit_keeps_its_ids_after_the_buyer_and_event_are_deleted(make_user, regular, log_path):
    buyer = make_user()
    request = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=regular.event_id)
    buyer_id, request_id, order_id, type_id = buyer.pk, request.pk, request.order.pk, regular.pk
    buyer.delete()
    regular.event.delete()
    entries = AuditEntry.objects.order_by("id").values_list("kind", "user_id", "request_id", "order_id")
    assert list(entries) == [
        ("queued", buyer_id, request_id, None),
        ("fulfilled", buyer_id, request_id, order_id),
    ]
    assert services.flush_transactions_csv() == 2
    rows = services.read_transactions_csv()
    # The ticket type's name went with it; its id stays.
    assert [(r["user_id"], r["ticket_type_id"], r["ticket_type"]) for r in rows] == [
        (str(buyer_id), str(type_id), "")
    ] * 2
    # What reads the entries back shows a dash for what is gone.
    assert [t.user for t in selectors.recent_transactions()] == [None, None]
