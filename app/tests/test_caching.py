"""Response and count caching: faster, and never stale — a write is visible on the very next read."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from app.models import Category, Product
from app.tests.factories import make_category, make_product
from app.tests.helpers import product_compiles

pytestmark = pytest.mark.django_db

LOCMEM = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "caching-tests"},
    "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "caching-tests-rl"},
}


@pytest.fixture
def cached(settings):
    settings.RESPONSE_CACHE = True
    settings.CACHES = LOCMEM  # a separate store, as Redis is in production
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def catalog(seller):
    phones = make_category(name="Phones")
    product = make_product(seller=seller, category=phones, name="Smartphone Zeta", price="100.00", is_featured=True)
    return {"category": phones, "product": product}


def read_urls(catalog):
    product, category = catalog["product"], catalog["category"]
    return {
        "list": reverse("api:product-list"),
        "detail": reverse("api:product-detail", args=[product.pk]),
        "category_products": reverse("api:category-products", args=[category.slug]),
        "search": reverse("api:product-search") + "?q=smartphone",
        "featured": reverse("api:product-featured"),
        "category": reverse("api:category-detail", args=[category.slug]),
    }


@pytest.mark.parametrize("name", ["list", "detail", "category_products", "search", "featured", "category"])
def test_second_read_is_a_hit_with_the_same_bytes(cached, anon_client, catalog, name):
    url = read_urls(catalog)[name]

    first = anon_client.get(url)
    with CaptureQueriesContext(connection) as queries:
        second = anon_client.get(url)

    assert first.status_code == second.status_code == 200
    assert "X-Cache" not in first
    assert second["X-Cache"] == "hit"
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert len(queries) == 0


@pytest.mark.parametrize("name", ["list", "detail", "category_products", "search", "featured"])
def test_a_write_is_visible_on_the_next_read(
    cached, anon_client, seller_client, catalog, name, django_capture_on_commit_callbacks
):
    url = read_urls(catalog)[name]
    assert "100.00" in anon_client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.patch(
            reverse("api:product-detail", args=[catalog["product"].pk]), {"price": "77.00"}, format="json"
        )
    assert response.status_code == 200

    after = anon_client.get(url)
    assert "X-Cache" not in after
    assert "77.00" in after.content.decode()
    assert "100.00" not in after.content.decode()


def test_stock_delta_and_deactivation_are_visible_too(
    cached, anon_client, seller_client, seller, admin_client_api, catalog, django_capture_on_commit_callbacks
):
    product_url = reverse("api:product-detail", args=[catalog["product"].pk])
    anon_client.get(product_url)

    with django_capture_on_commit_callbacks(execute=True):
        seller_client.patch(product_url, {"stock_delta": 7}, format="json")
    assert anon_client.get(product_url).json()["data"]["stock"] == 12

    with django_capture_on_commit_callbacks(execute=True):
        admin_client_api.delete(reverse("api:user-detail", args=[seller.pk]))
    assert anon_client.get(product_url).status_code == 404
    assert anon_client.get(reverse("api:product-list")).json()["count"] == 0


def test_cached_and_uncached_responses_are_byte_identical(settings, cached, anon_client, catalog):
    url = read_urls(catalog)["list"] + "?ordering=-price&page_size=5"
    anon_client.get(url)
    hit = anon_client.get(url)

    settings.RESPONSE_CACHE = False
    fresh = anon_client.get(url)

    assert hit["X-Cache"] == "hit"
    assert hit.content == fresh.content


def test_authenticated_reads_are_never_served_from_the_cache(cached, anon_client, seller_client, catalog):
    hidden = make_product(seller=catalog["product"].seller, category=catalog["category"], is_active=False)
    url = reverse("api:product-detail", args=[hidden.pk])

    assert anon_client.get(url).status_code == 404
    assert anon_client.get(url).status_code == 404
    own = seller_client.get(url)

    assert own.status_code == 200
    assert "X-Cache" not in own


def test_if_none_match_on_a_hit_is_a_304(cached, anon_client, catalog):
    url = read_urls(catalog)["detail"]
    etag = anon_client.get(url)["ETag"]

    response = anon_client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["ETag"] == etag


def test_each_origin_has_its_own_entry_with_its_own_cors_headers(cached, anon_client, catalog):
    """CORS headers are stored with the page, so the caller's Origin is part of the key: an
    allowed origin's hit carries its Access-Control-Allow-Origin, and no other caller's does."""
    url = read_urls(catalog)["list"]
    allowed, foreign = "http://localhost:3000", "https://elsewhere.example"

    def read(**origin):
        response = anon_client.get(url, **origin)
        assert response.status_code == 200
        return response.get("X-Cache"), response.get("Access-Control-Allow-Origin")

    assert read(HTTP_ORIGIN=allowed) == (None, allowed)
    assert read(HTTP_ORIGIN=allowed) == ("hit", allowed)
    assert read() == (None, None)  # no Origin: an entry of its own, without the header
    assert read() == ("hit", None)
    assert read(HTTP_ORIGIN=foreign) == (None, None)
    assert read(HTTP_ORIGIN=foreign) == ("hit", None)


def test_query_strings_and_accept_are_part_of_the_key(cached, anon_client, catalog):
    make_product(category=catalog["category"], price="5.00")
    url = reverse("api:product-list")

    cheap = anon_client.get(url, {"max_price": "10"}).json()
    everything = anon_client.get(url).json()

    assert cheap["count"] == 1
    assert everything["count"] == 2


def test_count_is_cached_per_filter_and_version(
    cached, anon_client, seller_client, catalog, django_capture_on_commit_callbacks, settings
):
    settings.RESPONSE_CACHE = False  # the count cache on its own
    url = reverse("api:product-list")
    anon_client.get(url)

    with CaptureQueriesContext(connection) as queries:
        body = anon_client.get(url, {"page_size": 1}).json()
    assert body["count"] == 1
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)

    with django_capture_on_commit_callbacks(execute=True):
        seller_client.post(url, {"name": "New", "price": "3.00", "category": catalog["category"].slug}, format="json")
    assert anon_client.get(url).json()["count"] == 2
    assert Product.objects.count() == 2


def test_cache_off_means_no_hits(settings, anon_client, catalog):
    settings.RESPONSE_CACHE = False
    url = read_urls(catalog)["list"]
    anon_client.get(url)

    assert "X-Cache" not in anon_client.get(url)


def test_a_new_category_filters_at_once(
    cached, anon_client, admin_client_api, catalog, django_capture_on_commit_callbacks
):
    """The category tree behind `?category=` is remembered per catalog version, never stale."""
    list_url = reverse("api:product-list")
    assert anon_client.get(list_url, {"category": "phones"}).json()["count"] == 1
    assert anon_client.get(list_url, {"category": "tablets"}).status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        created = admin_client_api.post(reverse("api:category-list"), {"name": "Tablets", "parent": "phones"})
    assert created.status_code == 201

    response = anon_client.get(list_url, {"category": "tablets"})
    assert response.status_code == 200
    assert response.json()["count"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        product_url = reverse("api:product-detail", args=[catalog["product"].pk])
        assert admin_client_api.patch(product_url, {"category": "tablets"}, format="json").status_code == 200
    assert anon_client.get(list_url, {"category": "tablets"}).json()["count"] == 1
    assert anon_client.get(list_url, {"category": "phones"}).json()["count"] == 1  # tablets is below phones


def test_a_known_version_serves_the_remembered_count_from_process_memory(
    cached, settings, anon_client, catalog, monkeypatch
):
    """An anonymous read learns the catalog version with its rate-limit count; the count it then
    recalls for that version comes from this process, without reading the cache again."""
    from django.core.cache import caches

    settings.RESPONSE_CACHE = False
    url = reverse("api:product-list")
    assert anon_client.get(url).json()["count"] == 1  # counts and remembers
    read, store = [], caches["default"]
    real_get_many = store.get_many
    monkeypatch.setattr(store, "get_many", lambda keys, **kw: read.extend(keys) or real_get_many(keys, **kw))

    with CaptureQueriesContext(connection) as queries:
        response = anon_client.get(url)

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert read == ["catalog:version"]  # no remembered value was read from the cache


def test_an_emptied_cache_never_brings_back_a_count_remembered_in_process(cached, settings, anon_client, catalog):
    """Redis restarted (or flushed) while the catalog changed: the version starts again from a
    fresh random number, never from one a process still holds values for."""
    from django.core.cache import cache

    settings.RESPONSE_CACHE = False
    url = reverse("api:product-list")
    assert anon_client.get(url).json()["count"] == 1
    assert anon_client.get(url).json()["count"] == 1  # served from process memory

    Product.objects.bulk_create([Product(**_copy_of(catalog["product"]))])  # no signal, no bump
    cache.clear()

    response = anon_client.get(url)
    assert response.status_code == 200
    assert response.json()["count"] == 2


def _copy_of(product) -> dict:
    return {
        "name": "Copy",
        "slug": "copy",
        "price": product.price,
        "stock": product.stock,
        "category": product.category,
        "seller": product.seller,
    }


def test_a_lost_version_bump_costs_at_most_the_memo_lifetime(cached, settings, anon_client, catalog, monkeypatch):
    """A write that did not bump the version (a bulk load, a bump lost to a cache timeout) shows
    once the remembered count expires: in the cache after RESPONSE_TTL, in a process's memory
    after LOCAL_TTL."""
    from django.core.cache import cache

    from app import caching
    from app.caching import VERSION_KEY

    settings.RESPONSE_CACHE = False
    url = reverse("api:product-list")
    assert anon_client.get(url).json()["count"] == 1
    Product.objects.bulk_create([Product(**_copy_of(catalog["product"]))])  # no signal, no bump
    assert anon_client.get(url).json()["count"] == 1  # remembered, as documented

    version = cache.get(VERSION_KEY)
    cache.clear()  # the remembered entries expired; the version did not change
    cache.set(VERSION_KEY, version, timeout=None)
    later = caching.monotonic() + caching.LOCAL_TTL + 1
    monkeypatch.setattr(caching, "monotonic", lambda: later)

    response = anon_client.get(url)
    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_a_restored_older_version_never_brings_back_values_of_a_later_one(
    cached, settings, anon_client, seller_client, catalog, django_capture_on_commit_callbacks
):
    """Redis restored from a snapshot holds an older version; the next write must not land on a
    version some process still remembers values for."""
    from django.core.cache import cache

    from app.caching import VERSION_KEY

    settings.RESPONSE_CACHE = False
    url = reverse("api:product-list")
    anon_client.get(url)
    snapshot = cache.get(VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        seller_client.post(
            url, {"name": "Second", "price": "3.00", "category": catalog["category"].slug}, format="json"
        )
    assert anon_client.get(url).json()["count"] == 2  # remembered for the new version

    cache.clear()
    cache.set(VERSION_KEY, snapshot, timeout=None)  # the restored snapshot
    with django_capture_on_commit_callbacks(execute=True):
        seller_client.post(url, {"name": "Third", "price": "4.00", "category": catalog["category"].slug}, format="json")

    response = anon_client.get(url)
    assert response.status_code == 200
    assert response.json()["count"] == 3


@pytest.mark.parametrize(
    "query", [{}, {"ordering": "-price"}, {"min_price": "50", "page_size": "1"}, {"featured_path": "1"}]
)
def test_a_page_read_again_runs_the_sql_compiled_the_first_time(
    cached, settings, anon_client, catalog, monkeypatch, query
):
    """Within a catalog version a list page is the same query: the second read sends the SQL the
    first compiled (CompiledRows), to the database, and answers the same bytes."""
    settings.RESPONSE_CACHE = False
    query = dict(query)
    url = reverse("api:product-featured" if query.pop("featured_path", None) else "api:product-list")
    first = anon_client.get(url, query)
    compiled = product_compiles(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        second = anon_client.get(url, query)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.json()["count"] == 1
    assert compiled == []  # nothing compiled again...
    assert any('"app_product"' in q["sql"] for q in queries.captured_queries)  # ...yet the rows were read


def test_a_write_recompiles_the_page_query(
    cached, settings, anon_client, admin_client_api, seller, catalog, django_capture_on_commit_callbacks, monkeypatch
):
    """A write bumps the catalog version, and a page's compiled SQL belongs to one version: a new
    subcategory of the filtered category is in the very next read's SQL (PostgreSQL writes the
    category ids into it)."""
    settings.RESPONSE_CACHE = False
    url = reverse("api:product-list")
    assert [p["name"] for p in anon_client.get(url, {"category": "phones"}).json()["results"]] == ["Smartphone Zeta"]

    with django_capture_on_commit_callbacks(execute=True):
        created = admin_client_api.post(reverse("api:category-list"), {"name": "Tablets", "parent": "phones"})
        assert created.status_code == 201
        tablets = created.json()["data"]
        make_product(seller=seller, category=Category.objects.get(pk=tablets["id"]), name="Tablet Eta", price="80.00")
    compiled = product_compiles(monkeypatch)

    response = anon_client.get(url, {"category": "phones"})

    assert response.status_code == 200
    assert [p["name"] for p in response.json()["results"]] == ["Tablet Eta", "Smartphone Zeta"]
    assert compiled  # compiled again, for the new version
    assert Product.objects.filter(category_id=tablets["id"]).count() == 1


def test_a_page_no_row_can_match_asks_nothing(cached, settings):
    """A filter no row can match compiles to nothing (Django's EmptyResultSet): the page is
    empty, with no query, as Django's own paginator would answer it."""
    from app.caching import request_version
    from app.utils import CachedCountPaginator
    from app.views import PUBLIC_PRODUCT_ROWS

    token = request_version.set(1)
    try:
        paginator = CachedCountPaginator(PUBLIC_PRODUCT_ROWS.none(), 20, count_key="none")
        with CaptureQueriesContext(connection) as queries:
            page = paginator.page(1)
            assert list(page) == []
    finally:
        request_version.reset(token)
    assert len(queries) == 0


def test_lists_with_the_same_count_keep_their_own_sql(cached, settings, anon_client, seller):
    """Two orderings of one list: the same count, the same page slice, yet each reads its own SQL."""
    settings.RESPONSE_CACHE = False
    category = make_category(name="Lamps")
    make_product(seller=seller, category=category, name="Cheap", price="1.00")
    make_product(seller=seller, category=category, name="Dear", price="2.00")
    url = reverse("api:product-list")

    def names(ordering):
        response = anon_client.get(url, {"ordering": ordering})
        assert response.status_code == 200
        return [product["name"] for product in response.json()["results"]]

    for _ in range(2):  # read, then read again from the kept SQL
        assert names("price") == ["Cheap", "Dear"]
        assert names("-price") == ["Dear", "Cheap"]


def filtersets_built(monkeypatch) -> list:
    """Spy on the FilterSets: the class of each one built from now on."""
    from app.filters import FilterSet

    built, real_init = [], FilterSet.__init__

    def init(self, *args, **kwargs):
        built.append(type(self).__name__)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(FilterSet, "__init__", init)
    return built


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("api:product-list", {"category": "phones", "ordering": "-price"}),
        ("api:product-featured", {"min_price": "50"}),
        ("api:product-search", {"q": "smartphone", "ordering": "price"}),
    ],
)
def test_a_filtered_list_read_again_builds_no_filterset(
    cached, settings, anon_client, catalog, monkeypatch, path, query
):
    """Within a catalog version a list filters to the same queryset: the second read starts from
    the one the first built (RememberedFilterBackend), and answers the same bytes."""
    settings.RESPONSE_CACHE = False
    url = reverse(path)
    built = filtersets_built(monkeypatch)
    first = anon_client.get(url, query)
    assert len(built) == 1

    second = anon_client.get(url, query)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.json()["count"] == 1
    assert len(built) == 1  # none built for the second read


def test_a_kept_filtered_list_is_read_from_the_database_every_time(cached, settings, anon_client, catalog, monkeypatch):
    """What is kept is the query, never its rows: the second read of a filtered category list
    runs its query again, and finds the same category."""
    settings.RESPONSE_CACHE = False
    url = reverse("api:category-list")
    first = anon_client.get(url, {"search": "pho"})
    built = filtersets_built(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        second = anon_client.get(url, {"search": "pho"})

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert [category["slug"] for category in second.json()["results"]] == ["phones"]
    assert built == []
    assert any('"app_category"' in q["sql"] for q in queries.captured_queries)


def test_a_write_filters_the_list_again(
    cached, settings, anon_client, admin_client_api, seller, catalog, django_capture_on_commit_callbacks, monkeypatch
):
    """A filtered queryset is kept for one catalog version: once a filtered category is gone,
    the next read of its list is refused, not answered from the queryset of the last version."""
    from app.tests.helpers import assert_error

    settings.RESPONSE_CACHE = False
    lamps = make_category(name="Lamps")
    url = reverse("api:product-list")
    assert anon_client.get(url, {"category": "lamps"}).json()["count"] == 0
    built = filtersets_built(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client_api.delete(reverse("api:category-detail", args=[lamps.slug])).status_code == 204
    response = anon_client.get(url, {"category": "lamps"})

    assert "category" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert built == ["ProductFilter"]
    assert not Category.objects.filter(slug="lamps").exists()


def test_a_deleted_seller_is_no_longer_a_filter(cached, settings, anon_client, django_capture_on_commit_callbacks):
    """Deleting a user (one who sells nothing: a seller's products protect them) bumps the
    catalog version, so a `?seller=` naming them is refused on the next read."""
    from app.models import User
    from app.tests.factories import make_user
    from app.tests.helpers import assert_error

    settings.RESPONSE_CACHE = False
    bob = make_user(username="bob", role="seller")
    url = reverse("api:product-list")
    assert anon_client.get(url, {"seller": "bob"}).json()["count"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        bob.delete()
    response = anon_client.get(url, {"seller": "bob"})

    assert "seller" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert not User.objects.filter(username="bob").exists()


def test_two_views_at_one_path_keep_their_own_filtered_querysets(cached, catalog):
    """The kept queryset is each view's and action's own: another view of the same path and
    parameters (none today, but nothing forbids one) is filtered from its own queryset."""
    from types import SimpleNamespace

    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from app.caching import request_version
    from app.filters import CategoryFilter, RememberedFilterBackend

    backend = RememberedFilterBackend()
    request = Request(APIRequestFactory().get("/api/v1/categories/", {"search": "pho"}))
    request.user = SimpleNamespace(is_authenticated=False)
    every = Category.objects.order_by("name")
    token = request_version.set(1)
    try:
        names = [
            list(backend.filter_queryset(request, queryset, view).values_list("name", flat=True))
            for queryset, view in [
                (every, SimpleNamespace(filterset_class=CategoryFilter, action="list")),
                (every.none(), SimpleNamespace(filterset_class=CategoryFilter, action="other")),
                (every.none(), SimpleNamespace(filterset_class=CategoryFilter, action="list")),  # kept
            ]
        ]
    finally:
        request_version.reset(token)
    assert names == [["Phones"], [], ["Phones"]]


@pytest.mark.parametrize("query", [{"min_price": "abc"}, {"category": "nowhere"}, {"ordering": "stock"}])
def test_invalid_filters_are_refused_every_time(cached, settings, anon_client, catalog, monkeypatch, query):
    """Only a valid list's queryset is kept: the same invalid parameters are refused again."""
    from app.caching import filtered_lists
    from app.tests.helpers import assert_error

    settings.RESPONSE_CACHE = False
    url = reverse("api:product-list")
    built = filtersets_built(monkeypatch)

    for _ in range(2):
        assert_error(anon_client.get(url, query), 400, "VALIDATION_ERROR")

    assert len(built) == 2
    refused = str([(name, [value]) for name, value in query.items()])
    assert not any(refused in key for key in filtered_lists._state[2])


def test_pages_a_client_varies_without_end_are_kept_within_their_own_bound(
    cached, settings, anon_client, catalog, monkeypatch
):
    """Each new filter value is a new list: its compiled page joins a memo of COMPILED_PAGES
    entries at most, apart from the counts and the category tree, which stay remembered."""
    from app import caching

    settings.RESPONSE_CACHE = False
    monkeypatch.setattr(caching.compiled_pages, "size", 3)
    monkeypatch.setattr(caching.filtered_lists, "size", 3)
    url = reverse("api:product-list")
    assert anon_client.get(url, {"category": "phones"}).json()["count"] == 1
    for price in range(1, 8):
        response = anon_client.get(url, {"min_price": str(price)})
        assert response.status_code == 200
        assert response.json()["count"] == 1

    kept_pages = caching.compiled_pages._state[2]
    assert 1 <= len(kept_pages) <= 3
    assert any("min_price" in key for key in kept_pages)
    kept_lists = caching.filtered_lists._state[2]
    assert 1 <= len(kept_lists) <= 3
    assert any("min_price" in key for key in kept_lists)
    remembered = caching._here._state[2]
    assert "category-tree" in remembered  # not dropped by the pages' churn
    assert any("phones" in key for key in remembered)  # nor the category list's count
