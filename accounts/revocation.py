"""Whether an access token was revoked, read from the cache with the database behind it.

A revocation moves the account's mark (User.access_tokens_valid_after) in the database, then
in the cache. The check reads the latest mark of any account first, from a copy this process
keeps for MEMO_SECONDS: a token issued after it needs no other read, which is the common case
on an on-sale. Only an older token costs a cache read of its account's mark, and only a cache
without that entry (Redis lost it, or is down) a database read, whose answer is then cached.
"""

import threading
import time

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Max

# Seconds this process trusts its copy of the latest mark (how late a revocation may be seen).
MEMO_SECONDS = 2.0
# Seconds a mark stays cached: in Redis, and in a process's memory while Redis is down. A
# revocation that reaches only the database (Redis unreachable from its process) is seen by
# the others once their entry expires.
CACHE_SECONDS = 60
FALLBACK_SECONDS = 5
LATEST_SECONDS = 10
LATEST_KEY = "revocation:latest"


def first_valid_second(mark) -> int:
    """The first whole second whose tokens a mark lets through (0: no mark, none refused).

    A token's `iat` has whole seconds only, so one issued in the same second as the revocation
    counts as earlier: refused, whether it came just before or just after.
    """
    return 0 if mark is None else int(mark.timestamp()) + 1


def issued_before(*, issued_at: int, mark) -> bool:
    """True when a token issued at `issued_at` (epoch seconds) predates the mark."""
    return issued_at < first_valid_second(mark)


def access_token_revoked(*, user_id, issued_at: int) -> bool:
    """True when the account's access tokens issued at `issued_at` were revoked since."""
    if issued_at >= _latest_second():
        return False
    return issued_at < _account_second(user_id)


def remember(*, user_id: int, mark) -> None:
    """Put a new mark in the cache and in this process's copy of the latest mark."""
    second = first_valid_second(mark)
    cache.set(_account_key(user_id), second, _timeout(CACHE_SECONDS))
    cache.set(LATEST_KEY, max(second, cache.get(LATEST_KEY) or 0), _timeout(LATEST_SECONDS))
    with _memo.lock:
        _memo.value = max(second, _memo.value)


def forget_memo() -> None:
    """Drop this process's copy of the latest mark (tests that change the cache under it)."""
    with _memo.lock:
        _memo.value, _memo.until = 0, 0.0


class _Memo:
    def __init__(self):
        self.lock = threading.Lock()
        self.value = 0
        self.until = 0.0


_memo = _Memo()


def _latest_second() -> int:
    now = time.monotonic()
    if now < _memo.until:
        return _memo.value
    value = cache.get(LATEST_KEY)
    if value is None:
        mark = get_user_model().objects.aggregate(latest=Max("access_tokens_valid_after"))["latest"]
        value = first_valid_second(mark)
        # add, not set: a revocation that wrote the cache since the read above keeps its mark.
        cache.add(LATEST_KEY, value, _timeout(LATEST_SECONDS))
    with _memo.lock:
        _memo.value, _memo.until = value, now + MEMO_SECONDS
    return value


def _account_second(user_id) -> int:
    key = _account_key(user_id)
    value = cache.get(key)
    if value is None:
        users = get_user_model().objects.filter(pk=user_id)
        value = first_valid_second(users.values_list("access_tokens_valid_after", flat=True).first())
        cache.add(key, value, _timeout(CACHE_SECONDS))
    return value


def _account_key(user_id) -> str:
    return f"revocation:user:{user_id}"


def _timeout(seconds: int) -> int:
    # While Redis is down the entry lives in one process's memory and cannot be updated by a
    # revocation in another process, so it is kept only a few seconds.
    return seconds if getattr(cache, "redis_available", True) else min(seconds, FALLBACK_SECONDS)
