"""The CSV transaction log: every committed AuditEntry row written exactly once."""

import csv
import io
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from filelock import FileLock

from ticketing.models import AuditEntry

COLUMNS = [
    "transaction_id",
    "timestamp",
    "kind",
    "event_id",
    "ticket_type_id",
    "ticket_type",
    "request_id",
    "order_id",
    "ticket_id",
    "user_id",
    "quantity",
    "reason",
]
# The AuditEntry fields behind COLUMNS, in the same order.
LOG_FIELDS = [
    "id",
    "created_at",
    "kind",
    "event_id",
    "ticket_type_id",
    "ticket_type__name",
    "request_id",
    "order_id",
    "ticket_id",
    "user_id",
    "quantity",
    "reason",
]
# Rows written per round. Rows are marked logged after each round, so only the last round
# can be in the file yet unmarked: the tail checked on recovery is one round long.
BATCH = 1000


def flush_transactions_csv(*, path: Path | None = None) -> int:
    """Append every committed, not yet logged AuditEntry to the CSV; return rows written."""
    path = Path(path or settings.TRANSACTIONS_CSV)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    # The file lock keeps processes from interleaving lines; the database flag, not the lock,
    # is what makes each row appear once.
    with FileLock(f"{path}.lock", timeout=60):
        while True:
            pending = list(
                AuditEntry.objects.filter(csv_logged=False).order_by("id").values_list(*LOG_FIELDS)[:BATCH]
            )
            if not pending:
                return written
            already = _ids_in_tail(path, BATCH)
            rows = [row for row in pending if row[0] not in already]
            _append(path, rows)
            with transaction.atomic():
                AuditEntry.objects.filter(pk__in=[row[0] for row in pending]).update(csv_logged=True)
            written += len(rows)


def format_row(row: tuple) -> list:
    """One LOG_FIELDS tuple as CSV cells."""
    return [row[0], row[1].isoformat(), *("" if v is None else v for v in row[2:])]


def _append(path: Path, rows) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(format_row(row) for row in rows)
    with open(path, "a", encoding="utf-8", newline="") as f:
        if f.tell() == 0:
            f.write(",".join(COLUMNS) + "\n")
        f.write(buffer.getvalue())
        f.flush()
        os.fsync(f.fileno())


def _ids_in_tail(path: Path, lines: int) -> set[int]:
    """AuditEntry ids in the file's last `lines` lines, after cutting off a torn last line."""
    if not path.exists():
        return set()
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        block, data = 64 * 1024, b""
        while size > len(data) and data.count(b"\n") <= lines:
            start = max(0, size - len(data) - block)
            f.seek(start)
            data = f.read(size - len(data) - start) + data
        if data and not data.endswith(b"\n"):
            # A crash during the write left half a line: drop it; the row is still unmarked.
            cut = data.rfind(b"\n") + 1
            f.truncate(size - (len(data) - cut))
            data = data[:cut]
    ids = set()
    for line in data.decode("utf-8", errors="replace").splitlines()[-lines:]:
        head = line.split(",", 1)[0]
        if head.isdigit():
            ids.add(int(head))
    return ids


def read_transactions_csv(*, path: Path | None = None) -> list[dict]:
    """The CSV log's rows as dictionaries."""
    path = Path(path or settings.TRANSACTIONS_CSV)
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
