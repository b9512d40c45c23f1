"""Rate-limit tiers (contract section 5): per IP for anonymous callers, per account for users and
premium users, headers on every limited response, nothing a client sends resets a counter."""

import logging

import pytest
from django.urls import reverse

from app.tests.factories import make_user
from app.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def low_limits(settings):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rate-limit-tests"},
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/hour", "user": "4/hour", "premium": "6/hour", "auth": "10/minute"},
    }
    from django.core.cache import caches

    caches["ratelimit"].clear()


def hammer(client, times, url=None, **headers):
    url = url or reverse("api:product-list")
    return [client.get(url, **headers) for _ in range(times)]


def test_anonymous_limit_with_headers_then_429(anon_client):
    responses = hammer(anon_client, 4)

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r["X-RateLimit-Limit"] for r in responses] == ["3"] * 4
    assert [r["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert_error(responses[-1], 429, "THROTTLED")
    assert 0 < int(responses[-1]["Retry-After"]) <= 3600


def test_rotating_forwarded_for_dodges_nothing(anon_client):
    statuses = [
        anon_client.get(
            reverse("api:product-list"),
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
            HTTP_X_REAL_IP=f"198.51.100.{i}",
        ).status_code
        for i in range(4)
    ]

    assert statuses == [200, 200, 200, 429]


def test_limits_count_across_endpoints(anon_client):
    hammer(anon_client, 2, reverse("api:category-list"))
    hammer(anon_client, 1, "/api/v1/no-such-endpoint/")

    assert_error(anon_client.get(reverse("api:product-list")), 429, "THROTTLED")


def test_users_are_counted_per_account_not_per_ip():
    first, second = client_for(make_user()), client_for(make_user())

    assert [r.status_code for r in hammer(first, 5)] == [200, 200, 200, 200, 429]
    assert hammer(second, 1)[0].status_code == 200
    assert hammer(second, 1)[0]["X-RateLimit-Limit"] == "4"


def test_premium_users_get_the_premium_tier():
    client = client_for(make_user(is_premium=True))

    responses = hammer(client, 7)

    assert [r.status_code for r in responses] == [200] * 6 + [429]
    assert responses[0]["X-RateLimit-Limit"] == "6"


def test_becoming_premium_raises_the_limit_within_the_window():
    user = make_user()
    client = client_for(user)
    assert hammer(client, 5)[-1].status_code == 429

    user.is_premium = True
    user.save()

    assert hammer(client, 1)[0].status_code == 200


def test_cached_responses_count_too(settings, anon_client):
    settings.RESPONSE_CACHE = True
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rl-cached"},
    }

    responses = hammer(anon_client, 4)

    assert responses[2]["X-Cache"] == "hit"
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1]["Retry-After"]


def test_limits_fail_open_when_the_cache_is_down(settings, anon_client, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        },
    }

    with caplog.at_level(logging.WARNING, logger="app.throttling"):
        statuses = [r.status_code for r in hammer(anon_client, 5)]

    assert statuses == [200] * 5
    assert any("not enforced" in r.getMessage() for r in caplog.records)


def test_health_is_not_rate_limited(anon_client):
    responses = hammer(anon_client, 5, reverse("api:health"))

    assert {r.status_code for r in responses} == {200}
    assert "X-RateLimit-Limit" not in responses[0]


@pytest.mark.parametrize("proxies", [None, 0, 1, 2, 5])
@pytest.mark.parametrize(
    "forwarded", [None, "", "198.51.100.7", "198.51.100.7, 10.0.0.2", " 203.0.113.9 ,198.51.100.7,10.0.0.2 "]
)
def test_the_client_address_is_the_one_drf_finds(settings, proxies, forwarded):
    # TierRateThrottle reads X-Forwarded-For from META, not through request.headers: same answer.
    from rest_framework.test import APIRequestFactory
    from rest_framework.throttling import BaseThrottle

    from app.throttling import TierRateThrottle

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    request = APIRequestFactory().get("/", REMOTE_ADDR="192.0.2.1", **headers)

    assert TierRateThrottle().get_ident(request) == BaseThrottle().get_ident(request)
