"""Caching that is never stale: everything cached is keyed by the catalog version, a number bumped
(after commit) by every write that can change what a catalog read shows.

- `ResponseCacheMiddleware`: anonymous GETs of catalog reads, stored as ready bytes;
- `cached_count`: the exact `count` of a list, per filter combination.
"""

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.http import parse_etags

from app.utils import error_body

logger = logging.getLogger(__name__)

VERSION_KEY = "catalog:version"
CACHED_PREFIXES = ("/api/v1/products/", "/api/v1/categories/")
RESPONSE_TTL = 600
LOCK_TTL = 5
# Headers a cached response carries over (security, CORS and Vary are added again on the way out).
KEPT_HEADERS = ("Content-Type", "ETag", "Allow")


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


def cached_count(queryset, key: str) -> int:
    """`queryset.count()`, remembered under `key` for this catalog version when the cache is a
    separate store. `key` must name everything the queryset depends on (path, filters, caller)."""
    if not cache_is_separate_store():
        return queryset.count()
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    key = f"count:{catalog_version()}:{digest}"
    count = cache.get(key)
    if count is None:
        count = queryset.count()
        cache.set(key, count, timeout=RESPONSE_TTL)
    return count


class ResponseCacheMiddleware:
    """Serve anonymous catalog GETs from the cache: same bytes, same headers, no view, no query.

    Keyed by method, host, full path, `Accept` and the catalog version, so a write is never
    followed by a stale page. A miss takes a short lock so a burst of identical requests renders
    the page once (stampede protection). Off with RESPONSE_CACHE=false.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not self._cacheable_request(request):
            return self.get_response(request)
        try:
            key = self._key(request)
            hit = cache.get(key)
            if hit is None and not cache.add(f"{key}:lock", 1, timeout=LOCK_TTL):
                hit = self._wait_for(key)
        except Exception:  # a cache outage only costs the cache
            logger.warning("Response cache unavailable", exc_info=True)
            return self.get_response(request)
        if hit is not None:
            return self._throttled(request) or self._replay(request, hit)
        response = self.get_response(request)
        if response.status_code == 200 and not response.streaming and not response.has_header("Set-Cookie"):
            stored = (response.content, {h: response[h] for h in KEPT_HEADERS if response.has_header(h)})
            cache.set(key, stored, timeout=RESPONSE_TTL)
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
        return f"response:{catalog_version()}:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"

    @staticmethod
    def _wait_for(key, attempts=20, pause=0.05):
        for _ in range(attempts):
            time.sleep(pause)
            hit = cache.get(key)
            if hit is not None:
                return hit
        return None

    @staticmethod
    def _throttled(request):
        """A hit skips the view, not the anonymous rate limit."""
        from app.throttling import TierRateThrottle

        throttle = TierRateThrottle()
        if throttle.allow_request(request, None):
            return None
        response = JsonResponse(error_body("THROTTLED", "Request was throttled."), status=429)
        response["Retry-After"] = str(int(throttle.wait()))
        return response

    @staticmethod
    def _replay(request, hit):
        content, headers = hit
        etag = headers.get("ETag")
        if etag and etag in parse_etags(request.META.get("HTTP_IF_NONE_MATCH", "")):
            return HttpResponseNotModified(headers={"ETag": etag})
        response = HttpResponse(content, headers=headers)
        response["X-Cache"] = "hit"
        return response
