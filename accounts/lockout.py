"""Account lockout after repeated wrong passwords (django-axes, counted in the cache).

The settings (AXES_* in eventtix/settings.py) point here for what EventTix decides itself: which
account a log-in was for, and what a locked-out client is answered.
"""

from axes.handlers.cache import AxesCacheHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cache, get_cool_off
from django.http import JsonResponse
from django.urls import reverse
from django.utils.translation import ngettext
from rest_framework import status
from rest_framework.exceptions import APIException

from eventtix.throttling import minutes_to_wait, too_many_attempts, typed_email


class CacheHandler(AxesCacheHandler):
    """django-axes's cache handler, reading the cache at each use (so a test's CACHES applies)."""

    def __init__(self):
        pass

    @property
    def cache(self):
        return get_cache()


class AccountLocked(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "account_locked"

    def __init__(self, wait: float):
        self.wait = int(wait)
        minutes = minutes_to_wait(wait)
        message = ngettext(
            "Too many attempts. Try again in %(minutes)d minute.",
            "Too many attempts. Try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
        super().__init__({"detail": message, "code": self.default_code})


def typed_username(request, credentials=None) -> str | None:
    """The email address a log-in was tried with, lower-cased: what failures are counted by."""
    email = None
    if credentials:
        email = credentials.get("email") or credentials.get("username")
    if email is None and request is not None and hasattr(request, "method"):
        email = typed_email(request)
    if not isinstance(email, str) or not email.strip():
        return None
    # Lower-cased (emails are case-insensitive here), and a lone surrogate, which no account's
    # email holds, replaced: django-axes hashes the name as UTF-8.
    return email.strip().lower().encode(errors="surrogatepass").decode(errors="replace")


def cool_off_seconds(request=None) -> float:
    return get_cool_off(request).total_seconds()


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out log-in is answered: the 429 page (the admin's own), or JSON under /api/."""
    wait = cool_off_seconds(request)
    if request.path.startswith("/api/"):
        response = JsonResponse(AccountLocked(wait).detail, status=429)
        response["Retry-After"] = str(int(wait))
        return response
    return too_many_attempts(request, wait, standalone=request.path.startswith(reverse("admin:index")))


def refuse_if_locked_out(request) -> None:
    """Raise AccountLocked if django-axes refused the log-in just tried with `request`."""
    if getattr(request, "axes_locked_out", False):
        raise AccountLocked(cool_off_seconds(request))


def forget_failures(request, user) -> None:
    """Clear the account's failure count after a log-in that sends no user_logged_in (the API's)."""
    AxesProxyHandler.user_logged_in(sender=type(user), request=request, user=user)
