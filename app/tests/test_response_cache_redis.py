"""The response cache on Redis: a hit is one round trip that also counts the caller's rate limit.

These run where the suite runs against Redis (REDIS_URL set: `.ci/run` does); elsewhere the
response cache is covered on an in-memory cache by test_caching.py.
"""

import time

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from app.tests.factories import make_category, make_product

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        "redis" not in django_settings.CACHES["default"]["BACKEND"].lower(),
        reason="needs REDIS_URL: the one-round-trip hit path is Redis's",
    ),
]

PER_REQUEST = {"X-Request-ID", "X-RateLimit-Remaining", "X-Cache"}


@pytest.fixture
def redis_cached(settings):
    settings.RESPONSE_CACHE = True
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "5/hour"}}  # fmt: skip
    cache.clear()


@pytest.fixture
def product(seller):
    return make_product(seller=seller, category=make_category(name="Phones"), name="Phone", price="100.00")


def test_a_hit_has_the_same_bytes_and_headers_and_runs_no_sql(redis_cached, anon_client, product):
    url = reverse("api:product-detail", args=[product.pk])
    miss = anon_client.get(url, HTTP_ORIGIN="http://localhost:3000")
    with CaptureQueriesContext(connection) as queries:
        hit = anon_client.get(url, HTTP_ORIGIN="http://localhost:3000")

    assert miss.status_code == hit.status_code == 200
    assert hit["X-Cache"] == "hit"
    assert "X-Cache" not in miss
    assert hit.content == miss.content
    assert {k: v for k, v in hit.items() if k not in PER_REQUEST} == {
        k: v for k, v in miss.items() if k not in PER_REQUEST
    }
    assert hit["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert len(queries) == 0


def test_each_request_counts_once_whether_hit_or_miss(redis_cached, anon_client, product):
    responses = [anon_client.get(reverse("api:product-list")) for _ in range(6)]

    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert [r.get("X-Cache") for r in responses[:5]] == [None, "hit", "hit", "hit", "hit"]
    assert [r["X-RateLimit-Remaining"] for r in responses] == ["4", "3", "2", "1", "0", "0"]
    assert responses[-1]["Retry-After"]


def test_a_write_makes_the_next_read_a_miss(
    redis_cached, anon_client, seller_client, product, django_capture_on_commit_callbacks
):
    url = reverse("api:product-detail", args=[product.pk])
    anon_client.get(url)
    assert anon_client.get(url)["X-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        assert seller_client.patch(url, {"price": "77.00"}, format="json").status_code == 200

    after = anon_client.get(url)
    assert "X-Cache" not in after
    assert after.json()["data"]["price"] == "77.00"
    assert anon_client.get(url)["X-Cache"] == "hit"


@pytest.mark.parametrize("response_cache", [True, False])
def test_a_window_counter_gets_its_expiry_once(settings, redis_cached, anon_client, product, response_cache):
    """The first request of a window sets its counter's expiry; the next ones leave it running."""
    from django.core.cache import caches

    from app.throttling import redis_client

    settings.RESPONSE_CACHE = response_cache
    client = redis_client(caches["ratelimit"])
    anon_client.get(reverse("api:product-list"))
    [counter] = client.keys("*ratelimit:anon:*")
    first_ttl = client.ttl(counter)
    client.expire(counter, 1000)  # a later request must not set it again
    anon_client.get(reverse("api:product-list"))

    assert 0 < first_ttl <= 3601
    assert 990 < client.ttl(counter) <= 1000
    assert int(client.get(counter)) == 2


def test_a_request_is_counted_once_when_its_window_ends_midway(redis_cached, anon_client, product, monkeypatch):
    """The lookup counts a miss just before a window ends; the view runs just after: no second count."""
    from types import SimpleNamespace

    from django.core.cache import caches

    from app.throttling import redis_client

    end = (int(time.time()) // 3600 + 1) * 3600  # the anonymous rate here is per hour
    monkeypatch.setattr("app.caching.time", SimpleNamespace(time=lambda: end - 0.5, sleep=time.sleep))
    monkeypatch.setattr("app.throttling.time", SimpleNamespace(time=lambda: end + 0.5))

    response = anon_client.get(reverse("api:product-list"))

    client = redis_client(caches["ratelimit"])
    counters = client.keys("*ratelimit:anon:*")
    assert response.status_code == 200
    assert "X-Cache" not in response
    assert len(counters) == 1
    assert int(client.get(counters[0])) == 1
    assert response["X-RateLimit-Remaining"] == "4"


def test_a_failed_round_trip_leaves_no_reply_for_the_next_caller(redis_cached):
    """`one_round_trip` sends its commands together; when one fails, the connection is closed,
    so the replies it did not read never answer the next round trip on that pool."""
    import redis

    from app.throttling import one_round_trip, redis_client

    client = redis_client(cache)
    client.set("rt:text", "not a number")
    client.set("rt:one", "1")

    with pytest.raises(redis.ResponseError):
        one_round_trip(client, ("INCR", "rt:text"), ("GET", "rt:one"))

    assert one_round_trip(client, ("GET", "rt:one"), ("INCR", "rt:one")) == [b"1", 2]
    assert client.get("rt:text") == b"not a number"


def test_a_round_trip_after_the_server_closed_the_connection_connects_again(redis_cached):
    """The connection kept for round trips may be closed by Redis (a restart, a timeout, CLIENT
    KILL): the next round trip connects again and answers."""
    from app.throttling import one_round_trip, redis_client

    client = redis_client(cache)
    (kept_id,) = one_round_trip(client, ("CLIENT", "ID"))
    client.set("rt:one", "1")

    assert client.client_kill_filter(_id=kept_id) == 1
    (again_id, count) = one_round_trip(client, ("CLIENT", "ID"), ("INCR", "rt:one"))

    assert count == 2
    assert again_id != kept_id
    assert int(client.get("rt:one")) == 2


def test_while_the_kept_connection_is_lent_a_round_trip_takes_one_from_the_pool(redis_cached):
    """One thread at a time sends on the kept connection; another, meanwhile, on a pool
    connection, so that no thread ever reads a reply meant for another."""
    from app import throttling

    client = throttling.redis_client(cache)
    (kept_id,) = throttling.one_round_trip(client, ("CLIENT", "ID"))

    with throttling._kept_lock:  # another thread is sending on it
        (meanwhile_id,) = throttling.one_round_trip(client, ("CLIENT", "ID"))

    assert meanwhile_id != kept_id
    assert throttling.one_round_trip(client, ("CLIENT", "ID")) == [kept_id]


def test_a_forked_process_sends_on_a_connection_of_its_own(redis_cached):
    """A child process (a gunicorn or Celery worker forked after the parent used Redis) never
    shares the parent's socket, and its exit leaves the parent's connection working."""
    import os

    from app.throttling import one_round_trip, redis_client

    client = redis_client(cache)
    (parent_id,) = one_round_trip(client, ("CLIENT", "ID"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its connection's id, and leave without any cleanup
        try:
            os.write(write_end, str(one_round_trip(client, ("CLIENT", "ID"))[0]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child_id = int(os.read(read_end, 64) or 0)
    os.close(read_end)
    os.waitpid(pid, 0)

    assert child_id not in (0, parent_id)
    assert one_round_trip(client, ("CLIENT", "ID")) == [parent_id]


def test_an_unreachable_redis_costs_one_connection_attempt(monkeypatch):
    """With Redis down, a round trip fails after one attempt to connect, not two (its caller
    then serves without the cache)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.connection import Connection
    from redis.retry import Retry

    from app.throttling import one_round_trip

    attempts = []

    def refuse(self):
        attempts.append(self.port)
        raise OSError("connection refused")

    monkeypatch.setattr(Connection, "_connect", refuse)
    # As django-redis makes its clients here: no retries (`redis_client(cache)`'s retry has none).
    client = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))

    with pytest.raises(redis.ConnectionError):
        one_round_trip(client, ("GET", "x"))
    assert attempts == [1]
