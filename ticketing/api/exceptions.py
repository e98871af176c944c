"""One place where domain errors become API responses."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework_simplejwt.authentication import JWTAuthentication

from ticketing import errors


def exception_handler(exc, context):
    if isinstance(exc, errors.TicketingError):
        data = {"detail": exc.message, "code": exc.code}
        if isinstance(exc, errors.AlreadyCheckedIn):
            data["checked_in_at"] = serializers.DateTimeField().to_representation(exc.when)
            data["checked_in_by"] = exc.by.name if exc.by else None
            data["check_in_list"] = exc.list_name or None
        headers = {}
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = JWTAuthentication().authenticate_header(context["request"])
        return Response(data, status=exc.status_code, headers=headers)
    if isinstance(exc, DjangoValidationError):
        # The account services report refusals per field, as forms do; DRF shows them the same way.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = serializers.ValidationError(detail)
    return drf_exception_handler(exc, context)


def not_found(request, exception):
    """The site's 404: JSON for a URL under /api/ that no route matches (/api/events/-1), else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """The site's 500: JSON under /api/ (an API client gets no HTML page), else the page."""
    if request.path.startswith("/api/"):
        detail = _("Something went wrong on our side. Please try again; if it keeps happening, tell us.")
        return JsonResponse({"detail": detail, "code": "server_error"}, status=500)
    return defaults.server_error(request)
