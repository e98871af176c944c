"""What a database error means for the person waiting on it."""

from django.db import OperationalError

# SQLSTATEs: lock_not_available (lock_timeout) and query_canceled (statement_timeout).
BUSY_SQLSTATES = {"55P03", "57014"}


def is_busy(exc: BaseException) -> bool:
    """True for a database error that means "gave up waiting" (its transaction rolled back, and
    the same work may simply be tried again), as opposed to a broken query."""
    if not isinstance(exc, OperationalError):
        return False
    if getattr(exc.__cause__, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    return "database is locked" in str(exc)  # SQLite's busy timeout
