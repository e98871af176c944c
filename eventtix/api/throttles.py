"""Rate limits for the API's expensive or abusable writes (rates in REST_FRAMEWORK settings)."""

from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from eventtix.cache import count


class ScopeRateThrottle(SimpleRateThrottle):
    """Counts a client's requests to one scope: by user when logged in, else by address.

    A counter per fixed window (eventtix.cache.count: one Redis round trip) rather than DRF's log
    of request times (a read and a write of a growing list): joining the queue pays one cache
    round trip for its limit instead of two. A client may spend one window's allowance at its end and the next
    at the start of the next, so a burst can reach twice the rate; the rate over time holds.
    """

    def get_rate(self):
        # Read at each request, not at import, so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        key = f"{self.key}:{window}"
        return count(self.cache, key, timeout=self.duration + 1) <= self.num_requests

    def wait(self):
        return max(0.0, self.window_ends - self.now)

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


class TicketVerifyRateThrottle(ScopeRateThrottle):
    """Limits looking up QR codes, so nobody can try codes at speed; door staff scan through check-in."""

    scope = "verify"
