"""Caching that is never stale: everything cached is keyed by the catalog version, a random number
replaced (after commit) by every write that can change what a catalog read shows.

- `ResponseCacheMiddleware`: anonymous GETs of catalog reads, stored as ready bytes;
- `cached_count`: the exact `count` of a list, per filter combination;
- `remembered`: any such value (the category tree, the keyset anchors of deep pages).
"""

import hashlib
import logging
import secrets
import time
from contextvars import ContextVar
from time import monotonic

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.http import parse_etags

from app.models import Category
from app.throttling import TierRateThrottle, expire_new_window, one_round_trip, redis_client
from app.utils import error_body

logger = logging.getLogger(__name__)

VERSION_KEY = "catalog:version"
CACHED_PREFIXES = ("/api/v1/products/", "/api/v1/categories/")
RESPONSE_TTL = 600
LOCK_TTL = 5
# Headers about a stored page's body: a 304 or a 429 answered from the cache leaves them out.
BODY_HEADERS = {"content-type", "content-length", "etag", "allow"}


def cache_is_separate_store() -> bool:
    """False for Django's database cache: caching a query's result there only moves the query."""
    return not settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache")


# The catalog version read for this request (an anonymous catalog read reads it in the same round
# trip as its rate-limit counter), or None: `recall` then reads it itself.
request_version: ContextVar[int | None] = ContextVar("catalog_version", default=None)
LOCAL_MEMO_SIZE = 10_000
LOCAL_TTL = 60
COMPILED_PAGES = 1_000
_MISSING = object()


class ProcessMemo:
    """What this process remembered lately for one catalog version: (the version, until when
    (monotonic clock), {key: value} for it), swapped whole. Its lifetime (LOCAL_TTL) bounds what
    a lost version bump can cost; values of another version, or past `size` of them, are dropped."""

    def __init__(self, size: int):
        self.size = size
        self._state: tuple = (None, 0.0, {})

    def get(self, key: str, default=None):
        """The value under `key` for this request's catalog version (`request_version`), else
        `default`: never a round trip."""
        version = request_version.get()
        local_version, until, values = self._state
        if version is None or version != local_version or monotonic() >= until:
            return default
        return values.get(key, default)

    def keep(self, key: str, value, version=None) -> None:
        """Keep `value` under `key` for `version` (by default this request's; none: nothing kept)."""
        version = request_version.get() if version is None else version
        if version is None:
            return
        local_version, until, values = self._state
        now = monotonic()
        if local_version != version or now >= until or len(values) >= self.size:
            values = {}
            self._state = (version, now + LOCAL_TTL, values)
        values[key] = value


# Counts, the category tree, anchors: small values, many lists.
_here = ProcessMemo(LOCAL_MEMO_SIZE)
# The compiled SQL of list pages (utils.CachedCountPaginator), about 7 KB each: a memo of its own,
# so that lists a client varies without end stay within a few MB and never crowd out the rest.
compiled_pages = ProcessMemo(COMPILED_PAGES)
# The filtered querysets of lists (filters.RememberedFilterBackend): as many, for the same reason.
filtered_lists = ProcessMemo(COMPILED_PAGES)


def catalog_version() -> int:
    """The catalog's current version: a random number, replaced by every catalog write. Versions
    are only compared for equality, never ordered."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, _fresh_version(), timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def _fresh_version() -> int:
    """A version no earlier state of the store can have had: after a restart, a flush or a
    restored snapshot, nothing remembered for an old version, in a process's memory or in the
    cache, is ever taken for the new one (as it could be with a counter)."""
    return secrets.randbits(62)


def _bump() -> None:
    cache.set(VERSION_KEY, _fresh_version(), timeout=None)


def catalog_changed() -> None:
    """Call from any write that can change a catalog read; the bump happens once it commits."""
    transaction.on_commit(_bump)


def recall(key: str):
    """(the catalog version, the value remembered under `key` for it, or None): an entry carries
    its version, and an entry of an older version is no value. Nothing is remembered when the
    cache is not a separate store: (None, None).

    When this request's version is known already (`request_version`), a value this process
    remembered for that version costs no round trip; otherwise the version and the entry come
    in one."""
    if not cache_is_separate_store():
        return None, None
    value = recall_here(key, _MISSING)
    if value is not _MISSING:
        return request_version.get(), value
    found = cache.get_many([VERSION_KEY, _memo_key(key)])
    version = found.get(VERSION_KEY) or catalog_version()
    entry = found.get(_memo_key(key))
    value = entry[1] if entry is not None and entry[0] == version else None
    if value is not None:
        _here.keep(key, value, version)
    return version, value


def recall_here(key: str, default=None):
    """What this process remembers under `key` for this request's catalog version (see
    `request_version`), else `default`: never a round trip."""
    return _here.get(key, default)


def remember_here(key: str, value) -> None:
    """Keep `value` under `key` for this request's catalog version, in this process only."""
    _here.keep(key, value)


def remember(key: str, version, value) -> None:
    """Keep `value` under `key` for `version` (as `recall` returned it); a newer entry overwrites
    an older one."""
    if version is not None:
        cache.set(_memo_key(key), (version, value), timeout=RESPONSE_TTL)
        _here.keep(key, value, version)


def remembered(key: str, compute):
    """`compute()`, remembered under `key` for this catalog version when the cache is a separate
    store (a write bumps the version, so it is never stale). `key` must name everything the
    value depends on (path, filters, caller...)."""
    version, value = recall(key)
    if value is None:
        value = compute()
        remember(key, version, value)
    return value


def _memo_key(key: str) -> str:
    return f"memo:{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def category_tree():
    """The category tree (ids, parents, slugs), remembered per catalog version: resolving a
    category filter and its descendants costs no query."""
    return remembered("category-tree", Category.objects.tree)


def count_memo_key(key: str) -> str:
    """Where the count of a list named by `key` is remembered."""
    return f"count|{key}"


def cached_count(queryset, key: str) -> int:
    """`queryset.count()`, remembered per catalog version (see `remembered`)."""
    return remembered(count_memo_key(key), queryset.count)


class ResponseCacheMiddleware:
    """Serve anonymous catalog GETs from the cache: same bytes, same headers, no view, no query.

    It sits high in the middleware stack and stores a response as the layers below made it,
    headers included, so a hit skips them all. Entries are keyed by method, host, full path,
    `Accept` and `Origin` (the CORS headers, set below, are stored with the page), and each
    carries the catalog version it was rendered at: the version and the entry come back in one
    round trip, and an entry of an older version is a miss (then overwritten), so a write is
    never followed by a stale page. A miss takes a short lock so a burst of
    identical requests renders the page once (stampede protection). Off with RESPONSE_CACHE=false.

    With or without it, an anonymous catalog read learns the catalog version in the round trip
    that counts its rate limit, so what the view recalls for that version (the count, the
    category tree, anchors) can come from this process's memory without another one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not self._anonymous_catalog_read(request):
            return self.get_response(request)
        token = request_version.set(None)
        try:
            return self._serve(request)
        finally:
            request_version.reset(token)

    def _serve(self, request):
        key = self._key(request) if settings.RESPONSE_CACHE else None
        throttle = TierRateThrottle()
        hit = None
        try:
            version, entry, count = self._lookup(request, key, throttle)
            version = version or catalog_version()
            request_version.set(version)
            if key is not None:
                hit = self._current(entry, version)
                if hit is None and not cache.add(f"{key}:lock", 1, timeout=LOCK_TTL):
                    hit = self._wait_for(key, version)
        except Exception:  # a cache outage only costs the cache
            logger.warning("Response cache unavailable", exc_info=True)
            return self.get_response(request)
        if hit is not None:
            return self._throttled(request, throttle, count, hit[1]) or self._replay(request, hit)
        response = self.get_response(request)
        if key is None:
            return response
        if response.status_code == 200 and not response.streaming and not response.has_header("Set-Cookie"):
            # Rendered from data at least as new as `version`: a write since then has bumped the
            # version, and the next read will render again.
            cache.set(key, (version, response.content, dict(response.items())), timeout=RESPONSE_TTL)
        cache.delete(f"{key}:lock")
        return response

    @staticmethod
    def _anonymous_catalog_read(request) -> bool:
        """Worth a look in the cache: with the response cache on, or when it is a separate store
        (the version then serves what the view recalls)."""
        return (
            (settings.RESPONSE_CACHE or cache_is_separate_store())
            and request.method in ("GET", "HEAD")
            and request.path.startswith(CACHED_PREFIXES)
            and "HTTP_AUTHORIZATION" not in request.META
            and not request.COOKIES
        )

    @staticmethod
    def _key(request) -> str:
        raw = "|".join(
            (
                request.method,
                request.get_host(),
                request.get_full_path(),
                request.META.get("HTTP_ACCEPT", ""),
                request.META.get("HTTP_ORIGIN", ""),  # CORS headers are stored with the page
            )
        )
        return f"response:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"

    @staticmethod
    def _lookup(request, key, throttle):
        """The catalog version, the entry stored under `key` (None without a key) and the
        caller's rate-limit count, in one round trip: on Redis, with the rate-limit counters in
        the same Redis, the counter goes up in the same trip (and the view then uses that count
        instead of counting again). Elsewhere the count is None: the throttle counts on its own."""
        keys = [VERSION_KEY] if key is None else [VERSION_KEY, key]
        store = caches["default"]  # once: the `cache` proxy looks it up again at every use
        client = redis_client(store)
        if client is None or settings.CACHES["ratelimit"] != settings.CACHES["default"]:
            found = store.get_many(keys)
            return found.get(VERSION_KEY), found.get(key), None
        at = time.time()
        counter = throttle.window_key(request, at)
        counter_name = store.make_key(counter)  # the counters' store has the same settings: the same key
        (version, *entry), count = one_round_trip(
            client, ("MGET", *(store.make_key(name) for name in keys)), ("INCR", counter_name)
        )
        request.ratelimit_counted = (at, counter, count)
        expire_new_window(client, counter_name, count, throttle.period + 1)
        decode = store.client.decode
        version = None if version is None else decode(version)
        return version, (decode(entry[0]) if entry and entry[0] is not None else None), count

    @staticmethod
    def _current(entry, version):
        """The stored (content, headers) if it was rendered at the current catalog version."""
        if entry is None or entry[0] != version:
            return None
        return entry[1:]

    @classmethod
    def _wait_for(cls, key, version, attempts=20, pause=0.05):
        for _ in range(attempts):
            time.sleep(pause)
            hit = cls._current(cache.get(key), version)
            if hit is not None:
                return hit
        return None

    @staticmethod
    def _throttled(request, throttle, count, headers):
        """A hit skips the view, not the anonymous rate limit. The 429 carries the headers the
        page's own layers set (CSP, Vary, X-Frame-Options...), not those of the page's body."""
        if throttle.decide(request, count) if count is not None else throttle.allow_request(request, None):
            return None
        response = JsonResponse(error_body("THROTTLED", "Request was throttled."), status=429)
        for name, value in headers.items():
            if name.lower() not in BODY_HEADERS:
                response[name] = value
        response["Retry-After"] = str(int(throttle.wait()))
        return response

    @staticmethod
    def _replay(request, hit):
        content, headers = hit
        etag = headers.get("ETag")
        if etag and etag in parse_etags(request.META.get("HTTP_IF_NONE_MATCH", "")):
            # A 304 carries what the 200 would have, but its body's type and length.
            kept = {name: value for name, value in headers.items() if name.lower() not in BODY_HEADERS}
            return HttpResponseNotModified(headers={**kept, "ETag": etag})
        response = HttpResponse(content, headers=headers)
        response["X-Cache"] = "hit"
        return response
