"""Fast answers instead of slow ones: a busy database, an overloaded server, a client gone.

Busy database:

PostgreSQL connections carry a lock_timeout and a statement_timeout (settings.py), so a request
that would wait behind a stalled lock holder gives up within seconds; SQLite gives up after its
busy timeout. Either way the request's transaction rolled back (nothing half-written), and this
turns the error into "busy, try again" with Retry-After instead of a 500.

Overload: a new ticket request that waited in the web server's queue longer than SHED_AFTER_S
(eventtix/load.py) is refused at once with 503 "overloaded" and Retry-After, before any work, so
that the server spends its time on buyers already in the queue (their pages and polls are never
shed) and a crowd's clients retry later instead of timing out. A ticket request whose client has
already hung up is not queued at all: nobody would learn of it, and a retry would double it.
"""

import logging
import random
import socket

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy

from eventtix import load
from eventtix.db import is_busy

log = logging.getLogger(__name__)

BUSY_MESSAGE = gettext_lazy(
    "EventTix is very busy right now and nothing was saved. Please try again in a few seconds."
)


OVERLOADED_MESSAGE = gettext_lazy(
    "EventTix is taking more requests than it can answer right now, and did not queue this one. "
    "Please try again in a few seconds."
)


def busy_response(request, *, code="busy", message=BUSY_MESSAGE, retry_after=None) -> HttpResponse:
    retry_after = str(retry_after or settings.EVENTTIX_BUSY_RETRY_AFTER_S)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": code}, status=503)
    else:
        body = render_to_string("503.html", {"message": message, "retry_after": retry_after})
        response = HttpResponse(body, status=503)
    response["Retry-After"] = retry_after
    return response


class BusyDatabaseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_busy(exception):
            return busy_response(request)
        return None


class ShedLoadMiddleware:
    """Refuse a new ticket request fast when it waited too long to be taken, or its client left."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or not load.is_sheddable(view_func):
            return None
        waited = load.queue_wait()
        if waited is not None and waited > settings.EVENTTIX_SHED_AFTER_S:
            log.warning("shed a ticket request that waited %.1f s to be taken", waited)
            # Spread the retries: a crowd told the same second comes back in step.
            retry_after = settings.EVENTTIX_BUSY_RETRY_AFTER_S + random.randint(0, 3)
            return busy_response(
                request, code="overloaded", message=OVERLOADED_MESSAGE, retry_after=retry_after
            )
        if client_gone(request):
            log.info("dropped a ticket request whose client had hung up")
            return HttpResponse(status=499, reason="Client Closed Request")  # nginx's; nobody reads it
        return None


def client_gone(request) -> bool:
    """True when the client closed its connection before its request was handled (gunicorn only)."""
    sock = request.META.get("gunicorn.socket")
    if sock is None:
        return False
    _ = request.body  # the whole body first: unread body bytes would look like a live client
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False  # nothing to read: still connected
    except OSError:
        return True  # reset by the client
