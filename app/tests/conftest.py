"""Shared fixtures: users per role, API clients authenticated with real JWTs, a temp MEDIA_ROOT."""

import math
import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache, caches
from rest_framework.test import APIClient

from app import models, throttling
from app.models import User
from app.tests.factories import make_user
from app.tests.helpers import client_for


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def common_words(monkeypatch):
    """The lexemes searches read as common (PostgreSQL's statistics, remembered per process): none,
    for every test, unless a test adds some; test_search.py reads the real statistics."""
    common = set()
    monkeypatch.setattr(models, "_common_lexemes", {"default": (math.inf, common)})
    monkeypatch.setattr(models, "_lexemes", {})  # and no word's stems known yet
    return common


@pytest.fixture(autouse=True)
def _fresh_shared_cache(settings):
    """Redis outlives a test's transaction; the database cache is rolled back with it."""
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        cache.clear()


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def customer(db):
    return make_user(role=User.Role.CUSTOMER)


@pytest.fixture
def seller(db):
    return make_user(role=User.Role.SELLER)


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser(email="root@example.com", username="root", password="x-Admin-pass-9")


@pytest.fixture
def customer_client(customer):
    return client_for(customer)


@pytest.fixture
def seller_client(seller):
    return client_for(seller)


@pytest.fixture
def admin_client_api(admin_user):
    return client_for(admin_user)


@pytest.fixture
def memory_caches(settings):
    """The cache and the rate-limit counters in process memory, empty: a store apart from the
    database, as Redis is (so counts, anchors and pages are remembered), whatever REDIS_URL says."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"},
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests-ratelimit"},
    }
    caches["default"].clear()
    caches["ratelimit"].clear()


@pytest.fixture
def response_cache(settings, memory_caches):
    """Anonymous catalog reads served from the response cache (in memory)."""
    settings.RESPONSE_CACHE = True


@pytest.fixture
def uncached_path(settings):
    """Pin the SQL a view costs on the path that caches nothing: the database cache turns the count
    cache and the revocation fast path off (test_caching.py covers them), whatever REDIS_URL says,
    and the rate-limit counters live in memory (in Redis they cost no SQL; test_rate_limits.py covers them)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "django_cache"},
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "uncached-path"},
    }


@pytest.fixture
def still_throttle_clock(monkeypatch):
    """The rate limits' clock stands still, so a test's requests all fall in one fixed window
    (a minute's window could otherwise roll over between them, and the count start again)."""
    now = time.time()
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: now))
