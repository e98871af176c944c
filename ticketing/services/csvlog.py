"""The CSV transaction log: every committed AuditEntry row written exactly once.

Rows go out in rounds of up to BATCH, each in id order. Across rounds, on PostgreSQL, an entry
whose transaction commits late can appear after higher ids (still exactly once, in the order of
the rounds that found it committed), since ids are assigned at insert, not at commit.

Each round is recorded before it is written: the journal beside the CSV (<csv>.round) holds the
file's size before the round and the round's ids. The round then appends its rows and fsyncs,
marks them csv_logged in one transaction, and deletes the journal. A flush that finds a journal
left by a crash keeps the round if its rows are marked, and otherwise cuts the file back to the
recorded size, so the still-unmarked rows are written again by the normal loop.
"""

import csv
import io
import json
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
    "actor_id",
    "amount",
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
    "actor_id",
    "amount",
]
# Rows written per round.
BATCH = 1000


def flush_transactions_csv(*, path: Path | None = None) -> int:
    """Append every committed, not yet logged AuditEntry to the CSV; return rows written."""
    path = Path(path or settings.TRANSACTIONS_CSV)
    path.parent.mkdir(parents=True, exist_ok=True)
    journal = _journal_path(path)
    written = 0
    # The file lock keeps one round in flight per file: the journal describes that round alone,
    # and recovery cuts the file back on the strength of it.
    with FileLock(f"{path}.lock", timeout=60):
        _recover(path, journal)
        _set_aside_if_other_columns(path)
        while True:
            pending = list(
                AuditEntry.objects.filter(csv_logged=False).order_by("id").values_list(*LOG_FIELDS)[:BATCH]
            )
            if not pending:
                return written
            ids = [row[0] for row in pending]
            offset = path.stat().st_size if path.exists() else 0
            _open_round(journal, offset, ids)
            with open(path, "a", encoding="utf-8", newline="") as f:
                if offset == 0:
                    f.write(",".join(COLUMNS) + "\n")
                _append(f, pending)
                f.flush()
                os.fsync(f.fileno())
            if offset == 0:
                _sync_dir(path.parent)  # a new file's name must survive a crash as its rows do
            with transaction.atomic():
                AuditEntry.objects.filter(pk__in=ids).update(csv_logged=True)
            _close_round(journal)
            written += len(ids)


def format_row(row: tuple) -> list:
    """One LOG_FIELDS tuple as CSV cells."""
    return [row[0], row[1].isoformat(), *("" if v is None else v for v in row[2:])]


def _append(f, rows) -> None:
    """Write rows to the open CSV file as whole lines."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(format_row(row) for row in rows)
    f.write(buffer.getvalue())


def _journal_path(path: Path) -> Path:
    """The file recording the round in progress for the CSV at path."""
    return path.with_name(path.name + ".round")


def _open_round(journal: Path, offset: int, ids: list[int]) -> None:
    """Record durably, before any of it reaches the CSV, where a round starts and what it holds."""
    partial = journal.with_name(journal.name + ".tmp")
    with open(partial, "w", encoding="utf-8") as f:
        json.dump({"offset": offset, "ids": ids}, f)
        f.flush()
        os.fsync(f.fileno())
    # The rename makes the journal appear whole or not at all; syncing the directory makes it
    # outlast a power cut that the round's rows might outlast too.
    os.replace(partial, journal)
    _sync_dir(journal.parent)


def _close_round(journal: Path) -> None:
    """Forget the finished round."""
    # No sync: a journal that reappears after a crash describes a round already settled, which
    # settling again leaves as it is, and the next round's journal replaces it durably first.
    journal.unlink(missing_ok=True)


def _recover(path: Path, journal: Path) -> None:
    """Settle a round a crash interrupted: keep it if its rows were marked, else cut it off."""
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    # Marking is one transaction, so an unmarked row means the whole round is unmarked.
    if path.exists() and AuditEntry.objects.filter(pk__in=record["ids"], csv_logged=False).exists():
        with open(path, "rb+") as f:
            # Cutting back to the round's start also drops a half-written last line.
            if f.seek(0, os.SEEK_END) > record["offset"]:
                f.truncate(record["offset"])
                f.flush()
                os.fsync(f.fileno())
    _close_round(journal)


def _set_aside_if_other_columns(path: Path) -> None:
    """Rename a log written with other columns (an older EventTix) so the new rows start a new file."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, encoding="utf-8", newline="") as f:
        header = f.readline().rstrip("\n")
    if header == ",".join(COLUMNS):
        return
    n = 1
    while (old := path.with_name(f"{path.stem}.{n}{path.suffix}")).exists():
        n += 1
    os.replace(path, old)


def _sync_dir(directory: Path) -> None:
    """Flush a directory's entries to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
