"""Answers for a database too busy to answer in time: a fast 503 the client can retry.

PostgreSQL connections carry a lock_timeout and a statement_timeout (settings.py), so a request
that would wait behind a stalled lock holder gives up within seconds; SQLite gives up after its
busy timeout. Either way the request's transaction rolled back (nothing half-written), and this
turns the error into "busy, try again" with Retry-After instead of a 500.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from eventtix.db import is_busy

BUSY_MESSAGE = "EventTix is very busy right now and nothing was saved. Please try again in a few seconds."


def busy_response(request) -> HttpResponse:
    retry_after = str(settings.EVENTTIX_BUSY_RETRY_AFTER_S)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": BUSY_MESSAGE, "code": "busy"}, status=503)
    else:
        body = render_to_string("503.html", {"message": BUSY_MESSAGE, "retry_after": retry_after})
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
