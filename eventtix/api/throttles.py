"""Rate limits for the API's expensive or abusable writes (rates in REST_FRAMEWORK settings)."""

from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from eventtix import throttling


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
        verdict = throttling.count_in_window(
            self.key,
            num_requests=self.num_requests,
            duration=self.duration,
            cache=self.cache,
            now=self.timer(),
        )
        self.wait_seconds = verdict.wait
        return verdict.allowed

    def wait(self):
        return self.wait_seconds

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RuleThrottle(BaseThrottle):
    """Counts a request by one of eventtix.throttling's rules, the same rule its page uses."""

    rule: throttling.Rule

    def allow_request(self, request, view):
        verdict = self.rule.check(request)
        self.wait_seconds = verdict.wait
        return verdict.allowed

    def wait(self):
        return self.wait_seconds


class LoginRateThrottle(RuleThrottle):
    """Per client address and per email address typed."""

    rule = throttling.LOGIN


class RegisterRateThrottle(RuleThrottle):
    """Per client address, per minute and per day."""

    rule = throttling.REGISTER


class TicketRequestRateThrottle(RuleThrottle):
    """Limits new ticket requests per buyer; reading one's own requests is not counted."""

    rule = throttling.TICKET_REQUESTS

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class TicketVerifyRateThrottle(ScopeRateThrottle):
    """Limits looking up QR codes, so nobody can try codes at speed; door staff scan through check-in."""

    scope = "verify"
