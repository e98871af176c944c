"""How long the current request waited in the web server's queue before a thread took it.

Under overload, requests wait in gunicorn's queue before any Django code runs; that wait is what
the client feels, and past a point the client has given up. EventTix's threaded gunicorn worker
(eventtix/gunicorn_worker.py) notes when it queued each connection; this module hands that moment
to the middleware that sheds new ticket requests (eventtix/middleware.py). Under other servers
(runserver, the test client) there is no such moment and nothing is shed.
"""

import threading
import time

_current = threading.local()


def queued(at: float | None) -> None:
    """Record (or clear, with None) when this thread's connection was queued (time.monotonic)."""
    _current.queued_at = at


def queue_wait() -> float | None:
    """Seconds the request being handled by this thread waited to be taken; None if unknown."""
    at = getattr(_current, "queued_at", None)
    return None if at is None else time.monotonic() - at


def sheddable(view):
    """Mark a view whose POST joins a queue: under overload it is refused fast, never left to wait."""
    view.sheddable = True
    return view


def is_sheddable(view_func) -> bool:
    # A DRF APIView's as_view() function carries its class as `cls`.
    return getattr(view_func, "sheddable", False) or getattr(
        getattr(view_func, "cls", None), "sheddable", False
    )
