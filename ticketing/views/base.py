"""What the page views share: access checks and turning a service's refusal into a message."""

from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from ticketing import errors

# A refusal about one field is shown beside that field; every other one above the form.
FIELD_FOR_CODE = {
    "invalid_quantity": "quantity",
    "unknown_ticket_type": "ticket_type",
    "invalid_tickets": "tickets",
    "invalid_refund": "refund",
}


@dataclass
class Outcome:
    value: Any = None
    error: errors.TicketingError | None = None


def attempt(service, /, *, form=None, request=None, **kwargs) -> Outcome:
    """Call a service; a refusal goes on the form, else into the page's messages, instead of raising."""
    try:
        return Outcome(value=service(**kwargs))
    except errors.TicketingError as exc:
        if form is not None:
            field = FIELD_FOR_CODE.get(exc.code)
            form.add_error(field if field in form.fields else None, exc.message)
        elif request is not None:
            messages.error(request, exc.message)
        return Outcome(error=exc)


def allowed_only(test):
    """Let through users for whom test(user) holds; send visitors to log in, refuse others (403)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not test(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
