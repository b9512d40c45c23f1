"""Contract section 3: the category tree, its roles, its conflicts and its product lists."""

import pytest
from django.urls import reverse

from app.models import Category, Product
from app.tests.factories import make_category, make_product, make_user
from app.tests.helpers import assert_error, client_for, images_query

pytestmark = pytest.mark.django_db

CATEGORY_FIELDS = {"id", "name", "slug", "description", "parent", "product_count", "created_at", "updated_at"}


def detail(ref):
    return reverse("api:category-detail", args=[str(ref)])


@pytest.fixture
def tree():
    """Electronics > Phones > Android; Books."""
    electronics = make_category(name="Electronics")
    phones = make_category(name="Phones", parent=electronics)
    android = make_category(name="Android", parent=phones)
    books = make_category(name="Books")
    return {"electronics": electronics, "phones": phones, "android": android, "books": books}


# --- reading --------------------------------------------------------------------------


def test_list_is_public_paginated_and_ordered_by_name(anon_client, tree):
    response = anon_client.get(reverse("api:category-list"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert [c["name"] for c in body["results"]] == ["Android", "Books", "Electronics", "Phones"]
    assert set(body["results"][0]) == CATEGORY_FIELDS


def test_product_count_includes_descendants_and_only_active_products(anon_client, tree):
    make_product(category=tree["android"])
    make_product(category=tree["phones"])
    make_product(category=tree["phones"], is_active=False)
    make_product(category=tree["electronics"], seller=make_user(role="seller", is_active=False))

    counts = {c["slug"]: c["product_count"] for c in anon_client.get(reverse("api:category-list")).json()["results"]}

    assert counts == {"electronics": 2, "phones": 2, "android": 1, "books": 0}


def test_list_filters_by_parent_id_or_slug_and_search(anon_client, tree):
    by_slug = anon_client.get(reverse("api:category-list"), {"parent": "electronics"}).json()
    by_id = anon_client.get(reverse("api:category-list"), {"parent": str(tree["phones"].pk)}).json()
    search = anon_client.get(reverse("api:category-list"), {"search": "OOK"}).json()

    assert [c["slug"] for c in by_slug["results"]] == ["phones"]
    assert [c["slug"] for c in by_id["results"]] == ["android"]
    assert [c["slug"] for c in search["results"]] == ["books"]


def test_unknown_parent_filter_is_400(anon_client, tree):
    response = anon_client.get(reverse("api:category-list"), {"parent": "nope"})

    assert "parent" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_list_query_count_is_fixed(anon_client, django_assert_num_queries, uncached_path):
    for i in range(30):
        make_category(name=f"C{i:02d}")
    # COUNT, page, category tree, product counts
    with django_assert_num_queries(4):
        anon_client.get(reverse("api:category-list"), {"page_size": 1})
    with django_assert_num_queries(4):
        anon_client.get(reverse("api:category-list"), {"page_size": 100})


@pytest.mark.parametrize("ref", ["uuid", "slug"])
def test_detail_by_uuid_or_slug(anon_client, tree, ref):
    phones = tree["phones"]

    response = anon_client.get(detail(phones.pk if ref == "uuid" else phones.slug))

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == str(phones.pk)
    assert data["parent"] == str(tree["electronics"].pk)


@pytest.mark.parametrize("ref", ["no-such-slug", "5b1c2d3e-0000-4000-8000-000000000000", "..%2f..%2f", "a%00b"])
def test_unknown_category_is_404(anon_client, ref):
    assert_error(anon_client.get(f"/api/v1/categories/{ref}/"), 404, "NOT_FOUND")
    assert_error(anon_client.get(f"/api/v1/categories/{ref}/products/"), 404, "NOT_FOUND")


def test_detail_etag_and_304(anon_client, tree):
    first = anon_client.get(detail("books"))
    etag = first["ETag"]

    again = anon_client.get(detail("books"), HTTP_IF_NONE_MATCH=etag)
    make_product(category=tree["books"])
    changed = anon_client.get(detail("books"), HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["data"]["product_count"] == 1


# --- writing ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["seller", "admin"])
def test_seller_and_admin_create(role, tree):
    user = make_user(role=role)

    response = client_for(user).post(
        reverse("api:category-list"), {"name": "Tablets & E-Readers", "parent": "electronics"}, format="json"
    )

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["slug"] == "tablets-e-readers"
    assert data["parent"] == str(tree["electronics"].pk)
    assert response.json()["message"] == "Category created"
    assert Category.objects.filter(slug="tablets-e-readers", parent=tree["electronics"]).exists()


def test_customer_cannot_create(customer_client):
    response = customer_client.post(reverse("api:category-list"), {"name": "X"}, format="json")

    assert_error(response, 403, "PERMISSION_DENIED")
    assert not Category.objects.exists()


def test_anonymous_cannot_create(anon_client):
    assert_error(anon_client.post(reverse("api:category-list"), {"name": "X"}, format="json"), 401, "NOT_AUTHENTICATED")


def test_duplicate_name_in_any_case_is_409(seller_client, tree):
    response = seller_client.post(reverse("api:category-list"), {"name": "BOOKS"}, format="json")

    assert "name" in assert_error(response, 409, "CONFLICT")["error"]["details"]
    assert Category.objects.filter(name__iexact="books").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"name": "A", "parent": "ghost"}, "parent")],
)
def test_bad_category_body_is_400(seller_client, body, field):
    response = seller_client.post(reverse("api:category-list"), body, format="json")

    assert field in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert not Category.objects.exists()


def test_rename_remakes_the_slug(seller_client, tree):
    response = seller_client.patch(detail("books"), {"name": "Comics"}, format="json")

    assert response.status_code == 200
    assert response.json()["data"]["slug"] == "comics"
    assert response.json()["message"] == "Category updated"
    assert Category.objects.get(pk=tree["books"].pk).slug == "comics"


def test_move_under_another_parent(seller_client, tree):
    response = seller_client.patch(detail("books"), {"parent": "electronics"}, format="json")

    assert response.status_code == 200
    assert Category.objects.get(pk=tree["books"].pk).parent == tree["electronics"]


@pytest.mark.parametrize("new_parent", ["electronics", "phones", "android"])
def test_a_cycle_is_422_and_nothing_moves(seller_client, tree, new_parent):
    response = seller_client.patch(detail("electronics"), {"parent": new_parent}, format="json")

    assert "parent" in assert_error(response, 422, "UNPROCESSABLE_ENTITY")["error"]["details"]
    assert Category.objects.get(pk=tree["electronics"].pk).parent is None


def test_customer_cannot_update(customer_client, tree):
    assert_error(customer_client.patch(detail("books"), {"name": "X"}, format="json"), 403, "PERMISSION_DENIED")
    assert Category.objects.get(pk=tree["books"].pk).name == "Books"


def test_update_with_a_stale_if_match_is_412(seller_client, anon_client, tree):
    etag = anon_client.get(detail("books"))["ETag"]
    seller_client.patch(detail("books"), {"description": "first edit"}, format="json")

    response = seller_client.patch(detail("books"), {"description": "second"}, format="json", HTTP_IF_MATCH=etag)

    assert_error(response, 412, "PRECONDITION_FAILED")
    assert Category.objects.get(pk=tree["books"].pk).description == "first edit"


# --- deleting ---------------------------------------------------------------------------


def test_admin_deletes_an_empty_category(admin_client_api, tree):
    response = admin_client_api.delete(detail("books"))

    assert response.status_code == 204
    assert not Category.objects.filter(slug="books").exists()


def test_seller_cannot_delete(seller_client, tree):
    assert_error(seller_client.delete(detail("books")), 403, "PERMISSION_DENIED")
    assert Category.objects.filter(slug="books").exists()


@pytest.mark.parametrize(("slug", "reason"), [("phones", "children"), ("android", "products")])
def test_delete_with_children_or_products_is_409_and_nothing_is_deleted(admin_client_api, tree, slug, reason):
    make_product(category=tree["android"])

    response = admin_client_api.delete(detail(slug))

    assert reason in assert_error(response, 409, "CONFLICT")["error"]["details"]
    assert Category.objects.count() == 4
    assert Product.objects.count() == 1


# --- products of a category ----------------------------------------------------------------


def test_category_products_include_descendants_and_take_filters(anon_client, tree):
    in_android = make_product(category=tree["android"], price="10.00")
    in_phones = make_product(category=tree["phones"], price="30.00")
    make_product(category=tree["books"])
    make_product(category=tree["phones"], is_active=False)

    everything = anon_client.get(reverse("api:category-products", args=["electronics"])).json()
    cheap = anon_client.get(reverse("api:category-products", args=["electronics"]), {"max_price": "20"}).json()
    by_price = anon_client.get(reverse("api:category-products", args=["electronics"]), {"ordering": "-price"}).json()

    assert {p["id"] for p in everything["results"]} == {str(in_android.pk), str(in_phones.pk)}
    assert [p["id"] for p in cheap["results"]] == [str(in_android.pk)]
    assert [p["id"] for p in by_price["results"]] == [str(in_phones.pk), str(in_android.pk)]


def test_category_products_of_an_unknown_category_is_404(anon_client):
    assert_error(anon_client.get(reverse("api:category-products", args=["nope"])), 404, "NOT_FOUND")


def test_category_products_bad_filter_is_400(anon_client, tree):
    response = anon_client.get(reverse("api:category-products", args=["phones"]), {"min_price": "abc"})

    assert "min_price" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_category_products_query_count_is_fixed(anon_client, tree, django_assert_num_queries, uncached_path):
    seller = make_user(role="seller")
    for i in range(25):
        make_product(category=tree["android"], seller=seller, name=f"P{i}")
    # the category, the tree, COUNT, the page with category and seller, images
    expected = 4 + images_query()
    with django_assert_num_queries(expected):
        anon_client.get(reverse("api:category-products", args=["electronics"]), {"page_size": 1})
    with django_assert_num_queries(expected):
        anon_client.get(reverse("api:category-products", args=["electronics"]), {"page_size": 100})
