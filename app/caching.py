"""Caching that is never stale: everything cached is keyed by the catalog version, a number bumped
(after commit) by every write that can change what a catalog read shows.

- `ResponseCacheMiddleware`: anonymous GETs of catalog reads, stored as ready bytes;
- `cached_count`: the exact `count` of a list, per filter combination;
- `remembered`: any such value (the category tree, the keyset anchors of deep pages).
"""

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.http import parse_etags

from app.models import Category
from app.throttling import TierRateThrottle, expire_new_window, redis_client
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


def catalog_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, 1, timeout=None)
        version = cache.get(VERSION_KEY) or 1
    return version


def _bump() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # the key was evicted or never set
        cache.set(VERSION_KEY, int(time.time()), timeout=None)


def catalog_changed() -> None:
    """Call from any write that can change a catalog read; the bump happens once it commits."""
    transaction.on_commit(_bump)


def recall(key: str):
    """(the catalog version, the value remembered under `key` for it, or None), in one round
    trip: an entry carries its version, and an entry of an older version is no value. Nothing
    is remembered when the cache is not a separate store: (None, None)."""
    if not cache_is_separate_store():
        return None, None
    found = cache.get_many([VERSION_KEY, _memo_key(key)])
    version = found.get(VERSION_KEY) or catalog_version()
    entry = found.get(_memo_key(key))
    return version, (entry[1] if entry is not None and entry[0] == version else None)


def remember(key: str, version, value) -> None:
    """Keep `value` under `key` for `version` (as `recall` returned it); a newer entry overwrites
    an older one."""
    if version is not None:
        cache.set(_memo_key(key), (version, value), timeout=RESPONSE_TTL)


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
    headers included, so a hit skips them all. Entries are keyed by method, host, full path and
    `Accept`, and each carries the catalog version it was rendered at: the version and the entry
    come back in one round trip, and an entry of an older version is a miss (then overwritten),
    so a write is never followed by a stale page. A miss takes a short lock so a burst of
    identical requests renders the page once (stampede protection). Off with RESPONSE_CACHE=false.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not self._cacheable_request(request):
            return self.get_response(request)
        key = self._key(request)
        throttle = TierRateThrottle()
        try:
            version, entry, count = self._lookup(request, key, throttle)
            version = version or catalog_version()
            hit = self._current(entry, version)
            if hit is None and not cache.add(f"{key}:lock", 1, timeout=LOCK_TTL):
                hit = self._wait_for(key, version)
        except Exception:  # a cache outage only costs the cache
            logger.warning("Response cache unavailable", exc_info=True)
            return self.get_response(request)
        if hit is not None:
            return self._throttled(request, throttle, count, hit[1]) or self._replay(request, hit)
        response = self.get_response(request)
        if response.status_code == 200 and not response.streaming and not response.has_header("Set-Cookie"):
            # Rendered from data at least as new as `version`: a write since then has bumped the
            # version, and the next read will render again.
            cache.set(key, (version, response.content, dict(response.items())), timeout=RESPONSE_TTL)
        cache.delete(f"{key}:lock")
        return response

    @staticmethod
    def _cacheable_request(request) -> bool:
        return (
            settings.RESPONSE_CACHE
            and request.method in ("GET", "HEAD")
            and request.path.startswith(CACHED_PREFIXES)
            and "HTTP_AUTHORIZATION" not in request.META
            and not request.COOKIES
        )

    @staticmethod
    def _key(request) -> str:
        raw = "|".join(
            (request.method, request.get_host(), request.get_full_path(), request.META.get("HTTP_ACCEPT", ""))
        )
        return f"response:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"

    @staticmethod
    def _lookup(request, key, throttle):
        """The catalog version, the entry stored under `key` and the caller's rate-limit count,
        in one round trip: on Redis, with the rate-limit counters in the same Redis, the counter
        goes up in the same trip (and a miss's view then uses that count instead of counting
        again). Elsewhere the count is None: the throttle counts on its own."""
        client = redis_client(cache)
        if client is None or settings.CACHES["ratelimit"] != settings.CACHES["default"]:
            found = cache.get_many([VERSION_KEY, key])
            return found.get(VERSION_KEY), found.get(key), None
        at = time.time()
        counter = throttle.window_key(request, at)
        counter_name = caches["ratelimit"].make_key(counter)
        pipe = client.pipeline(transaction=False)
        pipe.mget([cache.make_key(VERSION_KEY), cache.make_key(key)])
        pipe.incr(counter_name)
        (version, entry), count = pipe.execute()
        request.ratelimit_counted = (at, counter, count)
        expire_new_window(client, counter_name, count, throttle.period + 1)
        decode = cache.client.decode
        return (None if version is None else decode(version)), (None if entry is None else decode(entry)), count

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
