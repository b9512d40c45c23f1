"""Page-number pagination: page and page_size (default 20, capped at 100), 404 past the end."""

import pytest
from django.urls import reverse

from app.models import Category
from app.tests.factories import make_category, make_product
from app.tests.helpers import assert_error, ids

pytestmark = [pytest.mark.django_db, pytest.mark.urls("app.tests.urls")]


@pytest.fixture
def categories():
    Category.objects.bulk_create([Category(name=f"Cat {i:03d}", slug=f"cat-{i:03d}") for i in range(130)])


def test_list_envelope_shape(anon_client, categories):
    response = anon_client.get(reverse("probe:categories"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "count", "next", "previous", "results"}
    assert body["success"] is True
    assert body["count"] == 130
    assert len(body["results"]) == 20
    assert body["previous"] is None
    assert body["next"].endswith("?page=2")


def test_page_size_is_capped_at_100(anon_client, categories):
    response = anon_client.get(reverse("probe:categories"), {"page_size": 1000})

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 130
    assert len(body["results"]) == 100


@pytest.mark.parametrize("page_size", ["0", "-1", "abc"])
def test_bad_page_size_falls_back_to_default(anon_client, categories, page_size):
    response = anon_client.get(reverse("probe:categories"), {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 20


def test_last_page_has_the_remainder(anon_client, categories):
    response = anon_client.get(reverse("probe:categories"), {"page": 7})

    body = response.json()
    assert len(body["results"]) == 10
    assert body["next"] is None
    assert body["results"][-1]["name"] == "Cat 129"


@pytest.mark.parametrize("page", ["8", "99999", "0", "abc"])
def test_page_past_the_end_or_invalid_is_404(anon_client, categories, page):
    response = anon_client.get(reverse("probe:categories"), {"page": page})

    assert_error(response, 404, "NOT_FOUND")


def test_list_query_count_does_not_grow_with_page_size(
    anon_client, categories, django_assert_num_queries, uncached_path
):
    with django_assert_num_queries(2):  # COUNT(*) and the page
        anon_client.get(reverse("probe:categories"), {"page_size": 1})
    with django_assert_num_queries(2):
        anon_client.get(reverse("probe:categories"), {"page_size": 100})


def test_deep_pages_are_the_same_rows_in_the_same_order(anon_client, monkeypatch):
    from app.utils import CachedCountPaginator

    Category.objects.bulk_create([Category(name=f"Deep {i:04d}", slug=f"deep-{i:04d}") for i in range(60)])
    shallow = [anon_client.get(reverse("probe:categories"), {"page": p, "page_size": 7}).json() for p in (5, 6)]

    monkeypatch.setattr(CachedCountPaginator, "DEEP_OFFSET", 0)  # every page takes the ids-first path
    deep = [anon_client.get(reverse("probe:categories"), {"page": p, "page_size": 7}).json() for p in (5, 6)]

    assert deep == shallow
    assert [c["name"] for c in deep[0]["results"]][:2] == ["Deep 0028", "Deep 0029"]


def test_a_repeated_parameter_in_another_order_is_counted_apart(anon_client, memory_caches, seller):
    """A filter reads a repeated parameter's last value: `?category=a&category=b` and
    `?category=b&category=a` are different lists, and neither takes the other's remembered count."""
    lamps, chairs = make_category(name="Lamps"), make_category(name="Chairs")
    for i in range(3):
        make_product(seller=seller, category=lamps, name=f"Lamp {i}")
    for i in range(5):
        make_product(seller=seller, category=chairs, name=f"Chair {i}")
    url = reverse("api:product-list")

    chairs_last = anon_client.get(f"{url}?category=lamps&category=chairs")
    lamps_last = anon_client.get(f"{url}?category=chairs&category=lamps")

    assert chairs_last.status_code == lamps_last.status_code == 200
    assert (chairs_last.json()["count"], len(ids(chairs_last))) == (5, 5)
    assert (lamps_last.json()["count"], len(ids(lamps_last))) == (3, 3)
