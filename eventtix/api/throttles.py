"""Rate limits for the API's expensive or abusable writes (rates in REST_FRAMEWORK settings)."""

from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ScopeRateThrottle(SimpleRateThrottle):
    """Counts a client's requests to one scope: by user when logged in, else by address."""

    def get_rate(self):
        # Read at each request, not at import, so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginRateThrottle(ScopeRateThrottle):
    scope = "login"


class RegisterRateThrottle(ScopeRateThrottle):
    scope = "register"


class TicketRequestRateThrottle(ScopeRateThrottle):
    """Limits new ticket requests; reading one's own requests is not counted."""

    scope = "ticket_requests"

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
