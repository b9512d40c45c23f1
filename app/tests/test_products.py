"""Contract section 4: product CRUD, who may do what, hidden products, stock, ETags."""

from decimal import Decimal

import pytest
from django.urls import reverse

from app.models import Product, User
from app.tests.factories import make_category, make_product, make_user
from app.tests.helpers import assert_error, client_for, images_query

pytestmark = pytest.mark.django_db

PRODUCT_FIELDS = {
    "id", "name", "slug", "sku", "description", "price", "stock", "in_stock", "is_featured", "is_active",
    "category", "seller", "images", "created_at", "updated_at",
}  # fmt: skip


def detail(product):
    return reverse("api:product-detail", args=[product.pk])


@pytest.fixture
def category():
    return make_category(name="Phones")


@pytest.fixture
def other_seller():
    return make_user(role=User.Role.SELLER)


@pytest.fixture
def product(seller, category):
    return make_product(seller=seller, category=category, name="Blue Phone", price=Decimal("99.90"), stock=3)


def new_product(**overrides):
    return {"name": "Red Phone", "price": "199.5", "stock": 4, "category": "phones", **overrides}


# --- create -------------------------------------------------------------------------------


def test_seller_creates_a_product_and_becomes_its_seller(seller_client, seller, category):
    response = seller_client.post(reverse("api:product-list"), new_product(sku="RP-1"), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Product created"
    data = body["data"]
    assert set(data) == PRODUCT_FIELDS
    assert data["price"] == "199.50"
    assert data["in_stock"] is True
    assert data["seller"] == {"id": str(seller.pk), "username": seller.username}
    assert data["category"] == {"id": str(category.pk), "name": "Phones", "slug": "phones"}
    assert response["ETag"]
    assert Product.objects.get(pk=data["id"]).seller == seller


def test_category_may_be_written_by_uuid(seller_client, category):
    response = seller_client.post(reverse("api:product-list"), new_product(category=str(category.pk)), format="json")

    assert response.status_code == 201


def test_mass_assignment_is_ignored_on_create(seller_client, seller, other_seller, category):
    body = new_product(seller=str(other_seller.pk), is_featured=True, id="5b1c2d3e-0000-4000-8000-000000000000")
    body.update(created_at="2000-01-01T00:00:00Z", slug="chosen", in_stock=False)

    response = seller_client.post(reverse("api:product-list"), body, format="json")

    assert response.status_code == 201, response.content
    product = Product.objects.get(pk=response.json()["data"]["id"])
    assert (product.seller, product.is_featured, product.slug) == (seller, False, "red-phone")
    assert str(product.pk) != "5b1c2d3e-0000-4000-8000-000000000000"
    assert product.created_at.year != 2000


def test_admin_may_feature_a_product(admin_client_api, category):
    response = admin_client_api.post(reverse("api:product-list"), new_product(is_featured=True), format="json")

    assert response.status_code == 201
    assert response.json()["data"]["is_featured"] is True


def test_customer_cannot_create(customer_client, category):
    assert_error(
        customer_client.post(reverse("api:product-list"), new_product(), format="json"), 403, "PERMISSION_DENIED"
    )
    assert not Product.objects.exists()


def test_anonymous_cannot_create(anon_client, category):
    assert_error(anon_client.post(reverse("api:product-list"), new_product(), format="json"), 401, "NOT_AUTHENTICATED")


def test_form_encoded_create_works(seller_client, category):
    response = seller_client.post(reverse("api:product-list"), new_product(), format="multipart")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price": "0"}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": "1e309"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": "99999999999"}, "price"),
        ({"price": "abc"}, "price"),
        ({"stock": -5}, "stock"),
        ({"stock": 1.5}, "stock"),
        ({"stock": 10**12}, "stock"),
        ({"name": ""}, "name"),
        ({"name": "a\u0000b"}, "name"),
        ({"name": "x" * 10_000}, "name"),
        ({"category": "ghost"}, "category"),
        ({"category": None}, "category"),
        ({"sku": "s" * 65}, "sku"),
        ({"stock_delta": 3}, "stock_delta"),
    ],
)
def test_bad_product_fields_are_400(seller_client, category, overrides, field):
    response = seller_client.post(reverse("api:product-list"), new_product(**overrides), format="json")

    assert field in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert not Product.objects.exists()


def test_missing_fields_are_400(seller_client):
    response = seller_client.post(reverse("api:product-list"), {}, format="json")

    assert {"name", "price", "category"} <= set(assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"])


def test_markup_in_a_name_is_stored_verbatim_and_returned_as_json(seller_client, category):
    response = seller_client.post(
        reverse("api:product-list"), new_product(name="<script>alert(1)</script>"), format="json"
    )

    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["data"]["name"] == "<script>alert(1)</script>"


def test_same_seller_same_name_in_any_case_is_409(seller_client, product):
    response = seller_client.post(reverse("api:product-list"), new_product(name="BLUE PHONE"), format="json")

    assert "name" in assert_error(response, 409, "CONFLICT")["error"]["details"]
    assert Product.objects.count() == 1


def test_another_seller_may_use_the_same_name(other_seller, product, category):
    response = client_for(other_seller).post(reverse("api:product-list"), new_product(name="Blue Phone"), format="json")

    assert response.status_code == 201
    assert response.json()["data"]["slug"] == "blue-phone-2"


def test_duplicate_sku_is_409(seller_client, other_seller, category):
    make_product(seller=other_seller, sku="SKU-9")

    response = seller_client.post(reverse("api:product-list"), new_product(sku="SKU-9"), format="json")

    assert "sku" in assert_error(response, 409, "CONFLICT")["error"]["details"]
    assert Product.objects.filter(sku="SKU-9").count() == 1


# --- read -------------------------------------------------------------------------------


def test_public_detail(anon_client, product):
    response = anon_client.get(detail(product))

    assert response.status_code == 200
    assert response.json()["data"]["price"] == "99.90"
    assert response["ETag"]


def test_if_none_match_gives_304_until_the_product_changes(anon_client, seller_client, product):
    etag = anon_client.get(detail(product))["ETag"]

    unchanged = anon_client.get(detail(product), HTTP_IF_NONE_MATCH=etag)
    seller_client.patch(detail(product), {"price": "89.00"}, format="json")
    changed = anon_client.get(detail(product), HTTP_IF_NONE_MATCH=etag)

    assert unchanged.status_code == 304
    assert changed.status_code == 200
    assert changed.json()["data"]["price"] == "89.00"


@pytest.mark.parametrize("hidden_by", ["inactive", "seller_deactivated"])
def test_hidden_product_is_404_to_the_public_and_other_sellers(anon_client, other_seller, seller, product, hidden_by):
    if hidden_by == "inactive":
        Product.objects.filter(pk=product.pk).update(is_active=False)
    else:
        User.objects.filter(pk=seller.pk).update(is_active=False)

    assert_error(anon_client.get(detail(product)), 404, "NOT_FOUND")
    assert_error(client_for(other_seller).get(detail(product)), 404, "NOT_FOUND")


def test_inactive_product_is_visible_to_its_seller_and_admins(seller_client, admin_client_api, product):
    Product.objects.filter(pk=product.pk).update(is_active=False)

    assert seller_client.get(detail(product)).status_code == 200
    assert admin_client_api.get(detail(product)).status_code == 200


def test_etag_of_the_seller_does_not_open_a_hidden_product(anon_client, seller_client, product):
    Product.objects.filter(pk=product.pk).update(is_active=False)
    etag = seller_client.get(detail(product))["ETag"]

    assert_error(anon_client.get(detail(product), HTTP_IF_NONE_MATCH=etag), 404, "NOT_FOUND")


def test_row_by_pk_reads_what_the_public_rows_read(seller, category, anon_client, admin_client_api):
    """An anonymous detail runs SQL compiled once (RowByPk) of the public rows: the row must be
    the one the listing queryset reads, images and converted values included, and a row no
    public read may see is None."""
    import uuid

    from django.core.files.base import ContentFile

    from app.models import ProductImage, RowByPk
    from app.views import PUBLIC_PRODUCT_ROWS

    by_pk = RowByPk(PUBLIC_PRODUCT_ROWS)
    plain = make_product(seller=seller, category=category, sku=None, description="")
    pictured = make_product(seller=seller, category=category, sku="X-2", price=Decimal("1234567.89"), is_featured=True)
    for alt_text, position in (("front", 3), ("back", 1)):
        image = ProductImage(product=pictured, alt_text=alt_text, position=position)
        image.image.save(f"{alt_text}.jpg", ContentFile(b"x"), save=True)
    hidden = make_product(seller=seller, category=category, is_active=False)
    of_inactive_seller = make_product(category=category, seller=make_user(role=User.Role.SELLER, is_active=False))

    def typed(row):  # 1 == True: compare the types too
        return {name: (type(value), value) for name, value in row.items()}

    for product in (plain, pictured):
        row = by_pk.get(str(product.pk))
        assert typed(row) == typed(PUBLIC_PRODUCT_ROWS.get(pk=product.pk))
        assert row["id"] == product.pk
        assert row["price"] == product.price
        # The anonymous detail (this path) and an admin's (the ORM's joined rows): same body, same ETag.
        anonymous, admin = anon_client.get(detail(product)), admin_client_api.get(detail(product))
        assert anonymous.status_code == admin.status_code == 200
        assert anonymous.json() == admin.json()
        assert anonymous["ETag"] == admin["ETag"]
    for ref in (hidden.pk, of_inactive_seller.pk, uuid.uuid4(), "not-a-uuid", "0"):
        assert by_pk.get(str(ref)) is None
    assert len(by_pk._compiled) == 1  # compiled once for this database, then reused


def test_compiled_rows_read_what_the_queryset_reads(seller, category):
    """A list page run from SQL compiled once (CompiledRows) gives the rows the queryset gives:
    the same order, values converted to the same types, images included; run again, the same."""
    from django.core.files.base import ContentFile

    from app.models import CompiledRows, ProductImage
    from app.views import PUBLIC_PRODUCT_ROWS

    make_product(seller=seller, category=category, sku=None, description="")
    pictured = make_product(seller=seller, category=category, sku="X-3", price=Decimal("0.01"), stock=0)
    image = ProductImage(product=pictured, alt_text="side", position=2)
    image.image.save("side.jpg", ContentFile(b"x"), save=True)
    make_product(seller=seller, category=category, is_active=False)
    page = PUBLIC_PRODUCT_ROWS.order_by("price", "id")[:10]

    def typed(rows):  # 1 == True: compare the types too
        return [{name: (type(value), value) for name, value in row.items()} for row in rows]

    compiled = CompiledRows(page)
    expected = typed(page)
    assert len(expected) == 2
    assert typed(compiled.run()) == expected
    assert typed(compiled.run()) == expected


def test_compiled_rows_leave_out_columns_selected_only_to_order(seller, category):
    """distinct() ordered by a column it does not return selects that column too; values()
    drops it from the rows, and so does CompiledRows."""
    from app.models import CompiledRows

    for price in ("3.00", "1.00", "2.00"):
        make_product(seller=seller, category=category, price=Decimal(price))
    rows = Product.objects.values("category_id").distinct().order_by("price")

    assert CompiledRows(rows).run() == list(rows)
    assert list(rows) == [{"category_id": category.pk}] * 3  # distinct on (category, price), as Django reads it


@pytest.mark.parametrize("path", ["not-a-uuid", "0", "5b1c2d3e-0000-4000-8000-000000000000"])
def test_unknown_or_malformed_id_is_404(anon_client, path):
    assert_error(anon_client.get(f"/api/v1/products/{path}/"), 404, "NOT_FOUND")


def test_detail_query_count(anon_client, product, django_assert_num_queries, uncached_path):
    with django_assert_num_queries(1 + images_query()):  # product with category and seller, its images
        anon_client.get(detail(product))


# --- update --------------------------------------------------------------------------------


def test_seller_updates_own_product(seller_client, product):
    response = seller_client.patch(detail(product), {"price": "10", "stock": 0}, format="json")

    assert response.status_code == 200
    assert response.json()["message"] == "Product updated"
    data = response.json()["data"]
    assert (data["price"], data["stock"], data["in_stock"]) == ("10.00", 0, False)
    product.refresh_from_db()
    assert (product.price, product.stock) == (Decimal("10.00"), 0)


def test_put_replaces_and_needs_required_fields(seller_client, product):
    incomplete = seller_client.put(detail(product), {"name": "Only name"}, format="json")
    full = seller_client.put(detail(product), new_product(name="Renamed"), format="json")

    assert_error(incomplete, 400, "VALIDATION_ERROR")
    assert full.status_code == 200
    product.refresh_from_db()
    assert product.name == "Renamed"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_seller_cannot_touch_the_product(other_seller, product, method):
    response = getattr(client_for(other_seller), method)(detail(product), new_product(), format="json")

    assert_error(response, 403, "PERMISSION_DENIED")
    product.refresh_from_db()
    assert (product.name, product.price) == ("Blue Phone", Decimal("99.90"))


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_customer_and_anonymous_cannot_touch_the_product(customer_client, anon_client, product, method):
    assert_error(getattr(customer_client, method)(detail(product), {}, format="json"), 403, "PERMISSION_DENIED")
    assert_error(getattr(anon_client, method)(detail(product), {}, format="json"), 401, "NOT_AUTHENTICATED")
    assert Product.objects.filter(pk=product.pk).exists()


def test_admin_updates_any_product_and_may_feature_it(admin_client_api, product):
    response = admin_client_api.patch(detail(product), {"is_featured": True}, format="json")

    assert response.status_code == 200
    product.refresh_from_db()
    assert product.is_featured is True


def test_seller_cannot_feature_or_move_ownership(seller_client, other_seller, product):
    response = seller_client.patch(
        detail(product), {"is_featured": True, "seller": str(other_seller.pk)}, format="json"
    )

    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.is_featured, product.seller_id) == (False, product.seller_id)
    assert product.seller_id != other_seller.pk


def test_rename_to_own_existing_name_is_409(seller_client, seller, product, category):
    other = make_product(seller=seller, category=category, name="Green Phone")

    response = seller_client.patch(detail(other), {"name": "blue phone"}, format="json")

    assert_error(response, 409, "CONFLICT")
    other.refresh_from_db()
    assert other.name == "Green Phone"


def test_if_match_current_succeeds_and_stale_is_412(seller_client, product):
    etag = seller_client.get(detail(product))["ETag"]

    ok = seller_client.patch(detail(product), {"price": "50"}, format="json", HTTP_IF_MATCH=etag)
    stale = seller_client.patch(detail(product), {"price": "60"}, format="json", HTTP_IF_MATCH=etag)

    assert ok.status_code == 200
    assert ok["ETag"] != etag
    assert_error(stale, 412, "PRECONDITION_FAILED")
    product.refresh_from_db()
    assert product.price == Decimal("50.00")


def test_stock_delta_adds_and_takes(seller_client, product):
    up = seller_client.patch(detail(product), {"stock_delta": 5}, format="json")
    down = seller_client.patch(detail(product), {"stock_delta": -8}, format="json")

    assert up.json()["data"]["stock"] == 8
    assert down.json()["data"]["stock"] == 0
    product.refresh_from_db()
    assert product.stock == 0


def test_stock_delta_below_zero_is_422_and_changes_nothing(seller_client, product):
    response = seller_client.patch(detail(product), {"stock_delta": -4, "price": "1.00"}, format="json")

    assert "stock_delta" in assert_error(response, 422, "UNPROCESSABLE_ENTITY")["error"]["details"]
    product.refresh_from_db()
    assert (product.stock, product.price) == (3, Decimal("99.90"))


def test_stock_and_stock_delta_together_is_400(seller_client, product):
    response = seller_client.patch(detail(product), {"stock": 1, "stock_delta": 1}, format="json")

    assert_error(response, 400, "VALIDATION_ERROR")


# --- delete ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["seller", "admin"])
def test_seller_or_admin_deletes(seller_client, admin_client_api, product, who):
    client = seller_client if who == "seller" else admin_client_api

    response = client.delete(detail(product))

    assert response.status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()


# --- lists ------------------------------------------------------------------------------------


def test_list_shows_only_active_products_of_active_sellers(anon_client, seller_client, seller, category):
    visible = make_product(seller=seller, category=category)
    make_product(seller=seller, category=category, is_active=False)
    make_product(category=category, seller=make_user(role="seller", is_active=False))

    for client in (anon_client, seller_client):
        body = client.get(reverse("api:product-list")).json()
        assert [p["id"] for p in body["results"]] == [str(visible.pk)]


def test_featured_lists_only_featured(anon_client, category):
    featured = make_product(category=category, is_featured=True)
    make_product(category=category)
    make_product(category=category, is_featured=True, is_active=False)

    body = anon_client.get(reverse("api:product-featured")).json()

    assert [p["id"] for p in body["results"]] == [str(featured.pk)]


@pytest.mark.parametrize("url", ["api:product-list", "api:product-featured"])
def test_list_query_count_is_fixed(anon_client, category, url, django_assert_num_queries, uncached_path):
    seller = make_user(role="seller")
    for i in range(25):
        make_product(category=category, seller=seller, is_featured=True, name=f"P{i}")
    # COUNT, page with category and seller, images
    with django_assert_num_queries(2 + images_query()):
        anon_client.get(reverse(url), {"page_size": 1})
    with django_assert_num_queries(2 + images_query()):
        anon_client.get(reverse(url), {"page_size": 100})


@pytest.mark.parametrize(("method", "url"), [("put", "api:product-featured"), ("delete", "api:product-search")])
def test_list_endpoints_refuse_writes(seller_client, method, url):
    assert_error(getattr(seller_client, method)(reverse(url), {}, format="json"), 405, "METHOD_NOT_ALLOWED")


def test_fast_representation_matches_the_declared_fields(rf, seller, category):
    """ProductSerializer writes its output by hand for speed; it must equal what its fields give."""
    from django.core.files.base import ContentFile
    from rest_framework import serializers as drf

    from app.models import ProductImage
    from app.serializers import ProductSerializer

    product = make_product(seller=seller, category=category, sku=None, description="", price=Decimal("5"))
    other = make_product(seller=seller, category=category, sku="X-1", price=Decimal("1234567.89"))
    for alt_text, position in (("front", 3), ("back", 1)):  # made out of order: shown by position
        image = ProductImage(product=other, alt_text=alt_text, position=position)
        image.image.save(f"{alt_text}.jpg", ContentFile(b"x"), save=True)
    request = rf.get("/")
    instances = Product.objects.select_related("category", "seller").prefetch_related("images")
    rows = {row["id"]: row for row in Product.objects.for_listing()}
    assert set(rows) == {product.pk, other.pk}
    for item in instances:
        serializer = ProductSerializer(context={"request": request})
        by_fields = drf.ModelSerializer.to_representation(serializer, item)
        assert serializer.to_representation(rows[item.pk]) == dict(by_fields)
        assert ProductSerializer([rows[item.pk]], many=True, context={"request": request}).data == [dict(by_fields)]
    shown = serializer.to_representation(rows[other.pk])["images"]
    assert [(i["alt_text"], i["position"]) for i in shown] == [("back", 1), ("front", 3)]
