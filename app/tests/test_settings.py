"""Settings come from the environment and refuse an unsafe production configuration."""

import datetime
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.urls import reverse
from psycopg.postgres import types
from psycopg.pq import Format

from app.tests.factories import make_category, make_product
from app.utils import CachedCountPaginator
from ecommerce_backend.postgresql.base import UTCTimestamptzLoader


def _start(code: str = "import django; django.setup(); print('started')", **env) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process with exactly these overrides (and run `code`)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "ecommerce_backend.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_debug_off_with_the_development_key_refuses_to_start():
    result = _start(DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY is the development key" in result.stderr
    assert "started" not in result.stdout


def test_debug_on_with_the_development_key_starts():
    result = _start(DEBUG="true", SECRET_KEY="")

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_debug_off_with_a_real_key_starts():
    result = _start(DEBUG="false", SECRET_KEY="x" * 60)

    assert result.returncode == 0, result.stderr


def test_a_misspelt_boolean_is_refused_clearly():
    result = _start(DEBUG="maybe", SECRET_KEY="x" * 60)

    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_defaults_without_redis_use_the_shared_database_cache():
    assert settings.CACHES["default"]["BACKEND"] in {
        "django.core.cache.backends.db.DatabaseCache",
        "django_redis.cache.RedisCache",
    }
    if not os.environ.get("REDIS_URL"):
        assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024


def _cache_prefixes(**env) -> tuple[str, str]:
    result = _start(
        "from django.conf import settings; c = settings.CACHES; "
        "print(repr(c['default']['KEY_PREFIX']), repr(c['ratelimit']['KEY_PREFIX']))",
        REDIS_URL="redis://127.0.0.1:6379/15",
        **env,
    )
    assert result.returncode == 0, result.stderr
    default, ratelimit = result.stdout.split()
    return default, ratelimit


def test_apps_sharing_a_redis_keep_apart_with_their_own_key_prefix():
    """Cached counts and the category tree are keyed by a catalog version, which does not name
    the database: apps on different databases sharing one Redis each set CACHE_KEY_PREFIX."""
    assert _cache_prefixes(CACHE_KEY_PREFIX="") == ("''", "''")  # unset: the keys as they always were
    blue, counters = _cache_prefixes(CACHE_KEY_PREFIX="blue")

    assert blue == "'blue'"
    assert counters == blue  # rate limits share the cache's round trip (same store, same keys)


def _database_options(**env) -> str:
    result = _start(
        "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS'))",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def prepared_statements(test):
    """A test of PostgreSQL's prepared statements, with them on (DB_PREPARED_STATEMENTS)."""
    test = pytest.mark.skipif(
        not connection.settings_dict["OPTIONS"].get("server_side_binding"), reason="DB_PREPARED_STATEMENTS=false"
    )(test)
    test = pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")(test)
    return pytest.mark.django_db(test)


def test_postgresql_prepares_repeated_statements_unless_told_not_to():
    assert "'server_side_binding': True" in _database_options(DB_PREPARED_STATEMENTS="true")
    assert "server_side_binding" not in _database_options(DB_PREPARED_STATEMENTS="false")
    assert "statement_timeout=5000" in _database_options(DB_PREPARED_STATEMENTS="false")


def plans_kept(fragment: str) -> list[int]:
    """For each of this connection's prepared statements containing `fragment`: how many of its
    runs used the one plan PostgreSQL kept (its generic plan)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans FROM pg_prepared_statements")
        return [generic for statement, generic in cursor.fetchall() if fragment in statement]


def prepared_plans(pattern: str) -> list[tuple]:
    """(statement, generic plans, custom plans) of this connection's prepared statements LIKE `pattern`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            [pattern],
        )
        return cursor.fetchall()


RUNS = 8  # prepared at the 2nd run; PostgreSQL weighs keeping one plan from the 6th


@prepared_statements
def test_a_repeated_product_read_keeps_one_plan(anon_client):
    """Its best plan is the same for every id: PostgreSQL stops planning it (ecommerce_backend/postgresql/plans.py)."""
    product = make_product()
    url = reverse("api:product-detail", args=[product.pk])
    for _ in range(RUNS):
        response = anon_client.get(url)
        assert response.status_code == 200
        assert response.json()["data"]["id"] == str(product.pk)

    [kept] = plans_kept('"app_product"."id" = $1')
    assert kept >= 1


@prepared_statements
def test_a_search_is_planned_for_its_words_at_every_run(anon_client):
    """A plan made for no word in particular would walk the whole price index for
    `?search=<rare word>&ordering=-price`, and parse the search query once per row: a list's
    statement is never prepared, and PostgreSQL plans it for its values at every run."""
    make_product(name="Quartzite lamp")
    url = reverse("api:product-list")
    for _ in range(RUNS):
        response = anon_client.get(url, {"search": "quartzite", "ordering": "-price"})
        assert response.status_code == 200
        assert response.json()["count"] == 1

    assert plans_kept("websearch_to_tsquery") == []


@prepared_statements
def test_a_price_filtered_list_is_planned_for_its_range_at_every_run(anon_client, memory_caches):
    """One plan for every price range made lists filtered by ever-new prices 2-7x slower at 1M products."""
    cheap = make_product(price="5.00")
    make_product(price="500.00")
    for run in range(RUNS):  # a new range each time: its count is counted, not remembered
        response = anon_client.get(reverse("api:product-list"), {"max_price": f"{10 + run}"})
        assert response.status_code == 200
        assert [product["id"] for product in response.json()["results"]] == [str(cheap.pk)]
        assert response.json()["count"] == 1

    assert plans_kept('"price" <= $') == []  # neither the page's statement nor the count's


@pytest.fixture
def keyset_page(monkeypatch, memory_caches):
    """Six products, newest first; page 3 of 2 starts from a keyset anchor (anchors remembered)."""
    monkeypatch.setattr(CachedCountPaginator, "DEEP_OFFSET", 2)
    monkeypatch.setattr(CachedCountPaginator, "ANCHOR_EVERY", 2)
    return [str(make_product().pk) for _ in range(6)][::-1][4:6]


KEYSET = '"app_product"."id") < ('


@prepared_statements
def test_a_keyset_page_is_planned_once(anon_client, keyset_page):
    """`(created_at, id) < (anchor)`: an index scan from the anchor, wherever the anchor is. The
    anchor is written into the statement (utils.rows_after): with parameters, PostgreSQL planned
    it again at every run at 1M products, its plan for no anchor in particular looking dearer.
    Prepared as any other statement, at its second run; then never planned again."""
    for run in range(RUNS):
        response = anon_client.get(reverse("api:product-list"), {"page": 3, "page_size": 2})
        assert response.status_code == 200
        assert [product["id"] for product in response.json()["results"]] == keyset_page
        if run == 0:
            assert plans_kept(KEYSET) == []

    assert response.json()["count"] == 6
    [(statement, generic, custom)] = prepared_plans(f"%{KEYSET}%")
    assert "$" not in statement  # no parameters
    assert generic >= 1
    assert custom == 0


@prepared_statements
def test_a_filtered_keyset_page_is_planned_for_its_values(anon_client, keyset_page):
    """With a price range, its best plan depends on the range too."""
    for _ in range(RUNS):
        response = anon_client.get(reverse("api:product-list"), {"page": 3, "page_size": 2, "max_price": "100"})
        assert response.status_code == 200
        assert [product["id"] for product in response.json()["results"]] == keyset_page

    assert response.json()["count"] == 6
    assert plans_kept(KEYSET) == []


@prepared_statements
def test_a_category_list_is_planned_once_per_category_not_at_every_request(anon_client):
    """The category's ids are literals in the SQL (models.category_in): each category's list is a
    statement of its own, which the connection prepares and PostgreSQL plans once."""
    lamps, chairs = make_category(name="Lamps"), make_category(name="Chairs")
    make_product(category=lamps, name="Desk lamp")
    make_product(category=chairs, name="Armchair")
    url = reverse("api:product-list")
    for _ in range(4):
        for category, name in ((lamps, "Desk lamp"), (chairs, "Armchair")):
            response = anon_client.get(url, {"category": category.slug, "ordering": "-price"})
            assert response.status_code == 200
            assert [product["name"] for product in response.json()["results"]] == [name]

    plans = prepared_plans('%"category_id" IN (%')
    for category in (lamps, chairs):
        mine = [(generic, custom) for statement, generic, custom in plans if str(category.pk) in statement]
        assert mine, plans
        assert all(custom == 0 and generic >= 1 for generic, custom in mine), mine


@prepared_statements
def test_a_search_of_words_alone_is_prepared(anon_client):
    """models.CompiledSearch: one statement whatever the words, which the connection prepares, so
    PostgreSQL parses it once (and plans it as it chooses: for each search's words, at scale)."""
    make_product(name="Desk lamp", description="Brass.")
    make_product(name="Armchair", description="Oak.")
    url = reverse("api:product-search")
    for _ in range(RUNS):
        for word, name in (("lamp", "Desk lamp"), ("oak", "Armchair")):
            response = anon_client.get(url, {"q": word})
            assert response.status_code == 200
            assert [product["name"] for product in response.json()["results"]] == [name]

    runs = [generic + custom for _, generic, custom in prepared_plans("%websearch_to_tsquery%OVER ()%")]
    assert runs  # prepared...
    assert sum(runs) >= 2 * RUNS - 2  # ...at its second run


# --- the connection health check (ecommerce_backend/postgresql) ------------------------------------

health_checked = pytest.mark.skipif(connection.vendor != "postgresql", reason="the backend is PostgreSQL's")


def _end_from_elsewhere(pid):
    """End backend `pid` as a restart or an admin would, and wait until it is gone."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


@health_checked
@pytest.mark.django_db(transaction=True)
def test_a_sound_idle_connection_passes_the_health_check_without_a_round_trip(monkeypatch):
    connection.ensure_connection()
    monkeypatch.setattr(PostgresWrapper, "is_usable", lambda self: pytest.fail("SELECT 1 was sent"))

    assert connection.is_usable() is True


@health_checked
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_next_query():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    _end_from_elsewhere(pid)

    assert connection.is_usable() is False
    connection.health_check_done = False  # a new request
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


@health_checked
@pytest.mark.django_db(transaction=True)
def test_a_connection_inside_a_transaction_gets_the_full_check(monkeypatch):
    sent = []
    monkeypatch.setattr(PostgresWrapper, "is_usable", lambda self: sent.append("SELECT 1") or True)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

        assert connection.is_usable() is True
    assert sent == ["SELECT 1"]


# --- timestamps read by psycopg's native loader (ecommerce_backend/postgresql) ---------------------


def _read_timestamps(cursor) -> list:
    cursor.execute(
        "SELECT created_at, updated_at, TIMESTAMPTZ '1999-12-31 23:59:59.999999+05:30' FROM app_product ORDER BY id"
    )
    return cursor.fetchall()


@health_checked
@pytest.mark.django_db
def test_timestamps_read_natively_are_the_aware_utc_datetimes_djangos_loader_gives():
    make_product()
    make_product()
    with connection.cursor() as cursor:
        native = _read_timestamps(cursor)
        register_tzloader(connection.timezone, cursor.cursor)  # Django's own loader, on this cursor only
        by_django = _read_timestamps(cursor)

    assert connection.connection.adapters.get_loader(types["timestamptz"].oid, Format.TEXT) is UTCTimestamptzLoader
    assert len(native) == 2
    assert native == by_django
    assert all(value.tzinfo is datetime.UTC for row in native for value in row)
    assert native[0][2] == datetime.datetime(1999, 12, 31, 18, 29, 59, 999999, tzinfo=datetime.UTC)


@health_checked
@pytest.mark.django_db
def test_without_time_zone_support_timestamps_are_naive_as_django_makes_them(settings):
    make_product()
    settings.USE_TZ = False  # Django resets the connection's time zone; its loader takes over

    with connection.cursor() as cursor:
        rows = _read_timestamps(cursor)

    assert all(value.tzinfo is None for row in rows for value in row)
    assert rows[0][2] == datetime.datetime(1999, 12, 31, 18, 29, 59, 999999, tzinfo=datetime.UTC).replace(tzinfo=None)
