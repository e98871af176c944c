"""Redis as a cache that a Redis fault never turns into a failed request.

EventTix keeps nothing in its cache that it cannot lose: rate-limit counts, wake-up markers and
short-lived figures. So when Redis is down, hung or refusing, this backend answers from the
process's own memory instead, and checks Redis again only after RETRY_SECONDS: a hung Redis then
costs one short socket time-out per process per interval, not one per call, and never holds up
the threads that serve pages. Meanwhile rate limits count per process (looser, never closed) and
wake-ups are coalesced per process; the minute sweep serves whatever a lost wake-up left.
"""

import functools
import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

log = logging.getLogger("eventtix.cache")

FAULTS = (RedisError, ConnectionInterrupted, OSError)


class _Breaker:
    """One per Redis server and process (Django builds a cache object per thread)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.down_since = None

    def failed(self, exc, retry_seconds):
        with self.lock:
            self.down_until = time.monotonic() + retry_seconds
            first, self.down_since = self.down_since is None, self.down_since or time.monotonic()
        if first:
            log.warning(
                "Redis unreachable (%s: %s); the cache answers from this process's memory,"
                " rate limits count per process, and Redis is tried again every %.0f s",
                type(exc).__name__,
                exc,
                retry_seconds,
            )

    def recovered(self):
        with self.lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            log.warning("Redis is back after %.1f s; the cache uses it again", time.monotonic() - since)


_breakers: dict[str, _Breaker] = {}
_breakers_lock = threading.Lock()


def _fail_soft(name):
    redis_method = getattr(RedisCache, name)

    @functools.wraps(redis_method)
    def method(self, *args, **kwargs):
        breaker = self._breaker
        if time.monotonic() < breaker.down_until:
            return getattr(self._local, name)(*args, **kwargs)
        try:
            answer = redis_method(self, *args, **kwargs)
        except FAULTS as exc:
            breaker.failed(exc, self.RETRY_SECONDS)
            return getattr(self._local, name)(*args, **kwargs)
        if breaker.down_since is not None:
            breaker.recovered()
        return answer

    return method


# One round trip: a counter's first INCR also sets when it expires.
_COUNT_SCRIPT = (
    "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n"
)


def count(cache, key: str, *, timeout: int) -> int:
    """Add one to the counter `key`, created by its first count to expire `timeout` seconds
    later; return its new value. One Redis round trip with FailSoftRedisCache (add-then-incr, two
    when the counter is new, on any other cache)."""
    # (Through getattr: django.core.cache.cache, which DRF's throttles use, is a proxy.)
    counter = getattr(cache, "count_with_expiry", None)
    if counter is not None:
        return counter(key, timeout=timeout)
    return _count_generic(cache, key, timeout)


# One round trip however many counters are full: counts one in each of KEYS in turn until a
# counter is still within ARGV[1]; returns its place in KEYS (from 1), or 0 if every one was full.
_COUNT_FIRST_WITH_ROOM_SCRIPT = (
    "for i, key in ipairs(KEYS) do local n = redis.call('INCR', key)"
    " if n == 1 then redis.call('EXPIRE', key, ARGV[2]) end"
    " if n <= tonumber(ARGV[1]) then return i end end return 0"
)


def count_first_with_room(cache, keys: list[str], *, most: float, timeout: int) -> int | None:
    """Count one in each of `keys` in turn, as count() does, until a counter is still within
    `most` after its count; return that key's index, or None if every one was full. One Redis
    round trip with FailSoftRedisCache, whatever the number of keys."""
    counter = getattr(cache, "count_first_with_room", None)
    if counter is not None:
        return counter(keys, most=most, timeout=timeout)
    return _first_with_room_generic(cache, keys, most, timeout)


def _first_with_room_generic(cache, keys, most, timeout):
    for index, key in enumerate(keys):
        if _count_generic(cache, key, timeout) <= most:
            return index
    return None


def _count_generic(cache, key, timeout):
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # it expired between the two calls
        cache.add(key, 1, timeout=timeout)
        return 1


class FailSoftRedisCache(RedisCache):
    """django-redis's cache, falling back to this process's memory while Redis is unreachable."""

    RETRY_SECONDS = 2.0

    def __init__(self, server, params):
        super().__init__(server, params)
        # LocMemCache instances of one name share their store within the process.
        self._local = LocMemCache(f"eventtix-fallback:{server}", {"OPTIONS": {"MAX_ENTRIES": 10000}})
        with _breakers_lock:
            self._breaker = _breakers.setdefault(server, _Breaker())

    @property
    def redis_available(self) -> bool:
        """False from a failed call to Redis until one succeeds again (meanwhile: memory)."""
        return self._breaker.down_since is None

    def clear_fallback(self) -> None:
        self._local.clear()

    def count_with_expiry(self, key: str, *, timeout: int) -> int:
        """See the module's count()."""
        breaker = self._breaker
        if time.monotonic() < breaker.down_until:
            return _count_generic(self._local, key, timeout)
        try:
            client = self.client.get_client(write=True)
            answer = int(client.eval(_COUNT_SCRIPT, 1, self.make_and_validate_key(key), int(timeout)))
        except FAULTS as exc:
            breaker.failed(exc, self.RETRY_SECONDS)
            return _count_generic(self._local, key, timeout)
        if breaker.down_since is not None:
            breaker.recovered()
        return answer

    def count_first_with_room(self, keys: list[str], *, most: float, timeout: int) -> int | None:
        """See the module's count_first_with_room()."""
        breaker = self._breaker
        if time.monotonic() < breaker.down_until:
            return _first_with_room_generic(self._local, keys, most, timeout)
        try:
            client = self.client.get_client(write=True)
            place = int(
                client.eval(
                    _COUNT_FIRST_WITH_ROOM_SCRIPT,
                    len(keys),
                    *(self.make_and_validate_key(key) for key in keys),
                    most,
                    int(timeout),
                )
            )
        except FAULTS as exc:
            breaker.failed(exc, self.RETRY_SECONDS)
            return _first_with_room_generic(self._local, keys, most, timeout)
        if breaker.down_since is not None:
            breaker.recovered()
        return place - 1 if place else None

    get = _fail_soft("get")
    set = _fail_soft("set")
    add = _fail_soft("add")
    delete = _fail_soft("delete")
    get_many = _fail_soft("get_many")
    set_many = _fail_soft("set_many")
    delete_many = _fail_soft("delete_many")
    incr = _fail_soft("incr")
    decr = _fail_soft("decr")
    has_key = _fail_soft("has_key")
    touch = _fail_soft("touch")
    clear = _fail_soft("clear")
