"""Deep pages start from remembered keyset anchors: the same rows in the same order as OFFSET
pages, for every ordering (ties included), and never stale after a write."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from app.models import User
from app.tests.factories import make_category, make_product, make_user
from app.tests.helpers import ids, images_query, product_compiles
from app.utils import CachedCountPaginator

pytestmark = pytest.mark.django_db

LIST = reverse("api:product-list")


@pytest.fixture
def products(seller):
    """31 products with ties in every sort key: 3 prices, 4 timestamps, names shared by two sellers."""
    other = make_user(role=User.Role.SELLER, username="other-seller", email="other@example.com")
    category = make_category(name="Things")
    now = timezone.now()
    for i in range(31):
        make_product(
            seller=seller if i % 2 else other,
            category=category,
            name=f"Item {i // 2:02d}",
            price=Decimal(10 + i % 3),
            created_at=now - timedelta(minutes=i % 4),
        )


def pages(client, params, count=11):
    return [ids(client.get(LIST, {**params, "page": page, "page_size": 3})) for page in range(1, count + 1)]


@pytest.fixture
def anchors_only(monkeypatch):
    """Every page past the first 3 rows starts from an anchor (one every 6 rows), never ids-first."""
    monkeypatch.setattr(CachedCountPaginator, "DEEP_OFFSET", 3)
    monkeypatch.setattr(CachedCountPaginator, "ANCHOR_EVERY", 6)

    def refuse(*args):
        raise AssertionError("the ids-first path ran where an anchor should have")

    monkeypatch.setattr(CachedCountPaginator, "_ids_first", refuse)


@pytest.mark.parametrize(
    "ordering",
    # One direction: the anchor is a row comparison, (a, b) < (x, y); mixed: its OR form.
    [None, "price", "-price", "name", "-name", "created_at", "-created_at", "price,-name", "-price,name"],
)
def test_anchored_pages_are_the_offset_pages(anon_client, memory_caches, products, request, ordering):
    params = {"ordering": ordering} if ordering else {}
    offset_pages = pages(anon_client, params)
    assert sum(len(page) for page in offset_pages) == 31

    request.getfixturevalue("anchors_only")
    first = pages(anon_client, params)  # finds and remembers the anchors
    again = pages(anon_client, params)  # starts from the remembered ones

    assert first == again == offset_pages


@pytest.mark.parametrize("ordering", ["name", "-name"])
def test_anchors_with_quotes_and_backslashes_in_their_values_are_exact(
    anon_client, memory_caches, seller, request, ordering
):
    """On PostgreSQL an anchor's values are written into the SQL as literals (utils.rows_after):
    names with quotes, backslashes and the like still start the page right after their row."""
    category = make_category(name="Odd names")
    names = ["O'Brien", "back\\slash", 'say "hi"', "100% cotton", "naïve ünïcode", "semi;colon -- x", "tab\tname"]
    for i in range(21):
        make_product(seller=seller, category=category, name=f"{names[i % len(names)]} {i:02d}")
    params = {"ordering": ordering}
    offset_pages = pages(anon_client, params, count=7)
    assert sum(len(page) for page in offset_pages) == 21

    request.getfixturevalue("anchors_only")
    first = pages(anon_client, params, count=7)
    again = pages(anon_client, params, count=7)

    assert first == again == offset_pages


def test_an_anchored_page_is_not_stale_after_a_write(
    anon_client, memory_caches, products, seller, anchors_only, django_capture_on_commit_callbacks
):
    before = pages(anon_client, {})
    with django_capture_on_commit_callbacks(execute=True):
        newest = make_product(seller=seller, name="Brand New", created_at=timezone.now() + timedelta(hours=1))
        newest.save()  # a write through the model: its signal bumps the catalog version on commit

    after = pages(anon_client, {}, count=11)

    assert after[0][0] == str(newest.pk)
    # Every row moved down by one: page 5 now starts with what ended page 4.
    assert after[4][0] == before[3][-1]
    assert [pk for page in after for pk in page][1:] == [pk for page in before for pk in page]


def test_relevance_ordered_pages_count_in_the_page_query_then_go_ids_first(
    anon_client, memory_caches, products, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(CachedCountPaginator, "DEEP_OFFSET", 3)
    calls = []
    original = CachedCountPaginator._ids_first
    monkeypatch.setattr(CachedCountPaginator, "_ids_first", lambda self, *a: calls.append(a) or original(self, *a))
    url, params = reverse("api:product-search"), {"q": "item", "page": 3, "page_size": 3}

    first = anon_client.get(url, params)  # no count remembered: it comes with the ranked page
    again = anon_client.get(url, params)  # remembered: the deep page finds its ids first

    assert first.json()["count"] == again.json()["count"] == 31
    assert ids(first) == ids(again)
    assert len(ids(first)) == 3
    assert calls == [(6, 9)]


def test_a_new_ranked_search_takes_its_count_from_its_page_not_from_the_shared_cache(
    anon_client, memory_caches, products
):
    """Looking the count of each new search up in the shared cache would cost a round trip, and
    storing it another: it comes with the ranked page, and this process remembers it for the
    search's next pages."""
    url = reverse("api:product-search")
    first = anon_client.get(url, {"q": "item", "page_size": 3})
    stored = list(caches["default"]._cache)  # the keys the shared cache holds after it

    second = anon_client.get(url, {"q": "item", "page": 2, "page_size": 3})

    assert first.status_code == second.status_code == 200
    assert first.json()["count"] == second.json()["count"] == 31
    assert set(ids(first)).isdisjoint(ids(second))
    assert not [key for key in stored if ":memo:" in key]


def test_reading_page_after_page_computes_no_anchor_after_the_first(anon_client, memory_caches, products, request):
    """Each deep page remembers its last row as the anchor of the page after it."""
    offset_pages = pages(anon_client, {})  # pages of 3, before any anchor
    request.getfixturevalue("anchors_only")
    params = {"page_size": 6}
    anon_client.get(LIST, {**params, "page": 2})  # the first deep page finds its anchor (row 6)

    with CaptureQueriesContext(connection) as first_visit:
        third = anon_client.get(LIST, {**params, "page": 3})
    with CaptureQueriesContext(connection) as again:
        anon_client.get(LIST, {**params, "page": 3})

    assert third.status_code == 200
    assert ids(third) == offset_pages[4] + offset_pages[5]
    assert len(first_visit) == len(again)  # no query for an anchor: page 2 left it


def test_anchored_pages_of_model_instances_are_the_offset_pages(anon_client, memory_caches, request):
    """The category list pages model instances (not rows): its anchors, found or left by the page
    before, give the same pages as offsets."""
    for i in range(13):
        make_category(name=f"Shelf {i % 5}-{i:02d}")
    url = reverse("api:category-list")

    def category_pages():
        return [ids(anon_client.get(url, {"page": page, "page_size": 3})) for page in range(1, 6)]

    offset_pages = category_pages()
    request.getfixturevalue("anchors_only")
    first, again = category_pages(), category_pages()

    assert sum(len(page) for page in offset_pages) == 13
    assert first == again == offset_pages


def test_a_deep_page_read_again_runs_the_sql_compiled_the_first_time(
    anon_client, memory_caches, products, anchors_only, monkeypatch
):
    """A deep page is the same query within a catalog version, its anchor included: the second
    read sends the SQL the first compiled, and reads the same rows."""
    params = {"ordering": "-price", "page": 4, "page_size": 3}
    first = anon_client.get(LIST, params)
    compiled = product_compiles(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        second = anon_client.get(LIST, params)

    assert first.status_code == second.status_code == 200
    assert ids(second) == ids(first)
    assert len(ids(second)) == 3
    assert compiled == []
    assert len(queries) == 1 + images_query()  # the page itself, from the database
