"""Rate limits (contract section 5): fixed windows counted with one atomic increment in the shared
cache, so every app process enforces one limit and a request costs one cache round trip.

Tiers: anonymous callers per client IP (`THROTTLE_ANON`), users per account (`THROTTLE_USER`,
`THROTTLE_PREMIUM` for premium users), and the credential endpoints per client IP
(`THROTTLE_AUTH`). The client IP is the socket's address unless NUM_PROXIES trusted proxies
are configured (DRF's get_ident), so a client-sent X-Forwarded-For changes nothing.
If the cache is down, limits fail open with a logged warning: the API keeps serving.
"""

import logging
import os
import threading
import time

from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, period = rate.split("/")
    return int(count), PERIODS[period[0]]


class WindowRateThrottle(BaseThrottle):
    """Counts requests per (scope, caller) in fixed windows; subclasses choose scope and caller."""

    def scope_and_ident(self, request) -> tuple[str, str]:
        raise NotImplementedError

    def window_key(self, request, at: float | None = None) -> str:
        """The counter of the caller's window at time `at` (now by default); sets `limit`,
        `period` and `reset`."""
        scope, ident = self.scope_and_ident(request)
        self.limit, self.period = parse_rate(api_settings.DEFAULT_THROTTLE_RATES[scope])
        window = int((time.time() if at is None else at) // self.period)
        self.reset = (window + 1) * self.period
        return f"ratelimit:{scope}:{ident}:{window}"

    def allow_request(self, request, view):
        # The response cache counts a request in the same round trip as its lookup, and leaves
        # (when, which counter, its count): the same counter is never counted twice, even when a
        # window ends between the lookup and the view.
        counted = getattr(getattr(request, "_request", request), "ratelimit_counted", None)
        key = self.window_key(request, counted[0] if counted else None)
        if counted and counted[1] == key:
            return self.decide(request, counted[2])
        return self.decide(request, self._increment(key))

    def decide(self, request, count: int | None) -> bool:
        """Whether a request that made the window's counter `count` may go on."""
        if count is None:  # cache unreachable (django-redis answers None when it ignores errors)
            logger.warning("Rate limit not enforced: the cache is unavailable")
            self.remaining = self.limit
            return True
        self.remaining = max(self.limit - count, 0)
        _record(request, self.limit, self.remaining, self.reset)
        return count <= self.limit

    def _increment(self, key) -> int | None:
        cache = caches["ratelimit"]
        try:
            if client := redis_client(cache):
                name = cache.make_key(key)
                count = client.incr(name)
                expire_new_window(client, name, count, self.period + 1)
                return count
            try:
                return cache.incr(key)
            except ValueError:  # first request of the window
                if cache.add(key, 1, timeout=self.period + 1):
                    return 1
                return cache.incr(key)
        except Exception:
            return None

    def wait(self):
        return max(self.reset - time.time(), 1)

    def get_ident(self, request):
        """The client's address as DRF's `get_ident` finds it (with NUM_PROXIES trusted proxies, the
        hop they saw in X-Forwarded-For; else the socket's address), read from META: DRF reads the
        header through `request.headers`, which copies every header of the request first, a
        sixteenth of a cache hit's instructions (callgrind)."""
        meta = request.META
        forwarded, address = meta.get("HTTP_X_FORWARDED_FOR"), meta.get("REMOTE_ADDR")
        proxies = api_settings.NUM_PROXIES
        if proxies is None:
            return "".join(forwarded.split()) if forwarded else address
        if proxies == 0 or forwarded is None:
            return address
        hops = forwarded.split(",")
        return hops[-min(proxies, len(hops))].strip()


class TierRateThrottle(WindowRateThrottle):
    """The default for every endpoint: anonymous per IP, users and premium users per account."""

    def scope_and_ident(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return ("premium" if user.is_premium else "user"), str(user.pk)
        return "anon", self.get_ident(request)


class AuthRateThrottle(WindowRateThrottle):
    """`THROTTLE_AUTH` per client IP on login, register, refresh and password change (brute force)."""

    def scope_and_ident(self, request):
        return "auth", self.get_ident(request)


def redis_client(cache):
    """The raw client behind a django-redis cache (None for other backends), for pipelines."""
    if hasattr(cache, "client") and hasattr(cache.client, "get_client"):
        return cache.client.get_client(write=True)
    return None


# Per Redis connection pool, the connection this process keeps for `one_round_trip`, lent to one
# thread at a time; forgotten in a forked child, which takes its own.
_kept: dict = {}
_kept_lock = threading.Lock()


def _forget_kept() -> None:
    global _kept_lock
    _kept.clear()
    _kept_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_kept)


def one_round_trip(client, *commands) -> list:
    """The replies to `commands` (tuples such as `("INCR", name)`), sent together: a pipeline
    without redis-py's Pipeline object, whose bookkeeping cost more client CPU than the trip
    itself (146-151 µs a trip against 102-112 µs, measured). Sent on the connection this process
    keeps for round trips (`_kept_connection`), or, while another thread is using it, on one from
    the pool. Retried as redis-py retries a pipeline (the connection's `retry`, on connection
    errors). After any failure the connection is closed, so no reply left unread ever answers
    the next round trip."""
    pool = client.connection_pool
    if not _kept_lock.acquire(blocking=False):
        connection = pool.get_connection()
        try:
            return _send(connection, commands)
        finally:
            pool.release(connection)
    try:
        return _send(_kept_connection(pool), commands)
    finally:
        _kept_lock.release()


def _kept_connection(pool):
    """The connection kept for round trips to `pool`'s server: taken from the pool once and never
    handed back (the pool still counts it, and its `disconnect()` closes it), because taking one
    and handing it back at every request (a lock, connection metrics) cost about 20 µs of client
    CPU, a third of a round trip (measured). Checked as the pool checks a connection it
    hands out: one the server closed, or with data no one asked for, is closed, and the command
    connects again."""
    connection = _kept.get(pool)
    if connection is None:
        connection = _kept[pool] = pool.get_connection()
    elif connection.is_connected:
        try:
            quiet = not connection.can_read()
        except RedisError:  # the server closed it
            quiet = False
        if not quiet:
            connection.disconnect()
    return connection


def _send(connection, commands) -> list:
    def send() -> list:
        connection.send_packed_command(connection.pack_commands(commands))
        return [connection.read_response() for _ in commands]

    try:
        return connection.retry.call_with_retry(send, lambda error: connection.disconnect())
    except BaseException:
        connection.disconnect()
        raise


def expire_new_window(client, name: str, count: int, timeout: int) -> None:
    """After an INCR: a window's first request sets its counter's expiry. Only that request
    pays a second round trip (django-redis's own incr pays two at every new window, and runs a
    Lua script each time). Were this call ever lost, the counter would only linger in Redis:
    its key names its window, so it never counts into the next one."""
    if count == 1:
        client.expire(name, timeout)


def _record(request, limit, remaining, reset) -> None:
    """Leave the numbers where RateLimitHeadersMiddleware finds them (DRF wraps Django's request)."""
    target = getattr(request, "_request", request)
    target.ratelimit = (limit, remaining, reset)


class RateLimitHeadersMiddleware:
    """`X-RateLimit-Limit` and `X-RateLimit-Remaining` on every rate-limited response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        numbers = getattr(request, "ratelimit", None)
        if numbers is not None:
            limit, remaining, reset = numbers
            response["X-RateLimit-Limit"] = str(limit)
            response["X-RateLimit-Remaining"] = str(remaining)
            response["X-RateLimit-Reset"] = str(int(reset))
        return response
