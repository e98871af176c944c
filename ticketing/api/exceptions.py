"""One place where domain errors become API responses."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ticketing.errors import TicketingError


def exception_handler(exc, context):
    if isinstance(exc, TicketingError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    return drf_exception_handler(exc, context)
