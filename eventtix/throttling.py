"""Fixed-window rate limits: one rule and one counter for the API's throttles and the pages' forms.

A scope's rate is REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope], read at each request. The API
and the pages count into the same keys, so a client's allowance for a scope is shared between
them rather than doubled. Only POSTs to the pages are counted; showing a form costs nothing.
"""

import functools
import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import cache as default_cache
from django.shortcuts import render
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from eventtix.cache import count

KEY_FORMAT = SimpleRateThrottle.cache_format


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    wait: float  # seconds until the counting window ends


ALLOWED = Verdict(True, 0.0)


def parse_rate(rate: str) -> tuple[int, int]:
    """The number of requests and the window in seconds of a rate like "10/min" (DRF's syntax)."""
    return SimpleRateThrottle.parse_rate(None, rate)


def count_in_window(key, *, num_requests, duration, cache=default_cache, now=None) -> Verdict:
    """Count one request under `key` in the current fixed window of `duration` seconds."""
    now = time.time() if now is None else now
    window = int(now // duration)
    wait = max(0.0, (window + 1) * duration - now)
    return Verdict(count(cache, f"{key}:{window}", timeout=duration + 1) <= num_requests, wait)


def hit(scope: str, ident: str) -> Verdict:
    """Count one request of `ident` against `scope`'s rate (no rate: always allowed)."""
    rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
    if rate is None:
        return ALLOWED
    num_requests, duration = parse_rate(rate)
    key = KEY_FORMAT % {"scope": scope, "ident": ident}
    return count_in_window(key, num_requests=num_requests, duration=duration)


def client_address(request) -> str:
    """The client's address as every limit sees it: the NUM_PROXIES-th from the right of
    X-Forwarded-For behind that many proxies, else REMOTE_ADDR (DRF's rule)."""
    return BaseThrottle().get_ident(request)


def email_ident(email) -> str | None:
    """The account ident of an email address as typed: case and spaces do not make a new one."""
    email = (email or "").strip().lower() if isinstance(email, str) else ""
    if not email:
        return None
    # Hashed: a cache key stays short and plain whatever was typed.
    return "email-" + hashlib.sha256(email.encode(errors="surrogatepass")).hexdigest()[:32]


def typed_email(request) -> str | None:
    """The email address a log-in or reset form was sent with (`email`, or `username` as in
    Django's log-in forms), from a page's POST or an API body."""
    data = getattr(request, "data", None)
    if data is None:
        data = request.POST
    try:
        return data.get("email") or data.get("username")
    except AttributeError:  # an API body that is not an object
        return None


@dataclass(frozen=True)
class Rule:
    """What one door counts: its scopes, per client address and/or per account."""

    scopes: tuple[str, ...]
    per_address: bool = True
    per_email: bool = False
    per_user: bool = False

    def idents(self, request) -> list[str]:
        idents = []
        if self.per_address:
            idents.append(client_address(request))
        if self.per_email and (ident := email_ident(typed_email(request))):
            idents.append(ident)
        if self.per_user and request.user.is_authenticated:
            idents.append(f"user-{request.user.pk}")
        return idents

    def check(self, request) -> Verdict:
        """Count the request under each scope and ident; refused if any is past its rate."""
        verdicts = [hit(scope, ident) for scope in self.scopes for ident in self.idents(request)]
        refused = [v for v in verdicts if not v.allowed]
        return Verdict(False, max(v.wait for v in refused)) if refused else ALLOWED


LOGIN = Rule(("login",), per_email=True)
REGISTER = Rule(("register", "register_day"))
PASSWORD_RESET = Rule(("password_reset",), per_email=True)
# As the API's: per buyer (a venue's shared address must not hold its buyers to one allowance).
TICKET_REQUESTS = Rule(("ticket_requests",), per_address=False, per_user=True)


def minutes_to_wait(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def too_many_attempts(request, wait: float, *, standalone: bool = False):
    """The 429 page: try again in N minutes, with Retry-After."""
    template = "throttled_standalone.html" if standalone else "throttled.html"
    response = render(request, template, {"minutes": minutes_to_wait(wait)}, status=429)
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def throttle_page(rule: Rule, *, standalone: bool = False):
    """Answer a POST past `rule`'s rates with the 429 page before the view runs (nothing else is done)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                verdict = rule.check(request)
                if not verdict.allowed:
                    return too_many_attempts(request, verdict.wait, standalone=standalone)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
