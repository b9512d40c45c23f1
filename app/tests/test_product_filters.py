"""Contract section 4, filters: every product list takes the same validated, combinable filters."""

from decimal import Decimal

import pytest
from django.urls import reverse

from app.models import User
from app.tests.factories import make_category, make_product, make_user
from app.tests.helpers import ago, assert_error, ids, pks

pytestmark = pytest.mark.django_db

LIST = reverse("api:product-list")
FEATURED = reverse("api:product-featured")
SEARCH = reverse("api:product-search")


@pytest.fixture
def tree():
    """Electronics > Phones > Smartphones; Books."""
    electronics = make_category(name="Electronics")
    phones = make_category(name="Phones", parent=electronics)
    smartphones = make_category(name="Smartphones", parent=phones)
    books = make_category(name="Books")
    return {"electronics": electronics, "phones": phones, "smartphones": smartphones, "books": books}


@pytest.fixture
def tree_products(tree, seller):
    """One product per category, newest first: smartphone, phone, electronics, book."""
    return {
        "smartphones": make_product(category=tree["smartphones"], seller=seller, name="Gadget S", created_at=ago(1)),
        "phones": make_product(category=tree["phones"], seller=seller, name="Gadget P", created_at=ago(2)),
        "electronics": make_product(category=tree["electronics"], seller=seller, name="Gadget E", created_at=ago(3)),
        "books": make_product(category=tree["books"], seller=seller, name="Gadget B", created_at=ago(4)),
    }


# --- category -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("electronics", ["smartphones", "phones", "electronics"]),
        ("phones", ["smartphones", "phones"]),
        ("smartphones", ["smartphones"]),
        ("books", ["books"]),
    ],
)
@pytest.mark.parametrize("ref", ["slug", "uuid"])
def test_category_filter_by_slug_or_uuid_includes_descendants(
    anon_client, tree, tree_products, category, expected, ref
):
    value = tree[category].slug if ref == "slug" else str(tree[category].pk)

    response = anon_client.get(LIST, {"category": value})

    assert ids(response) == pks(*(tree_products[name] for name in expected))
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    "value", ["ghost", "5b1c2d3e-0000-4000-8000-000000000000", "00000000-0000-0000-0000-000000000000"]
)
def test_unknown_category_is_400(anon_client, tree_products, value):
    response = anon_client.get(LIST, {"category": value})

    assert "category" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


# --- price --------------------------------------------------------------------------------------


@pytest.fixture
def priced(seller):
    """Prices 99.99, 100.00, 250.00, 500.00, 500.01; newest first in that order."""
    category = make_category()
    prices = ["99.99", "100.00", "250.00", "500.00", "500.01"]
    return {
        price: make_product(category=category, seller=seller, price=Decimal(price), created_at=ago(i))
        for i, price in enumerate(prices, start=1)
    }


def test_min_and_max_price_are_inclusive(anon_client, priced):
    response = anon_client.get(LIST, {"min_price": "100", "max_price": "500"})

    assert ids(response) == pks(priced["100.00"], priced["250.00"], priced["500.00"])
    assert response.json()["count"] == 3


def test_min_price_alone_is_inclusive(anon_client, priced):
    response = anon_client.get(LIST, {"min_price": "500.00"})

    assert ids(response) == pks(priced["500.00"], priced["500.01"])


def test_max_price_alone_is_inclusive(anon_client, priced):
    response = anon_client.get(LIST, {"max_price": "100.00"})

    assert ids(response) == pks(priced["99.99"], priced["100.00"])


def test_equal_min_and_max_price_select_that_price(anon_client, priced):
    response = anon_client.get(LIST, {"min_price": "250", "max_price": "250"})

    assert ids(response) == pks(priced["250.00"])


@pytest.mark.parametrize("value", ["abc", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e1000000", "-1", "0.001"])
@pytest.mark.parametrize("param", ["min_price", "max_price"])
def test_bad_price_bound_is_400_naming_the_parameter(anon_client, priced, param, value):
    response = anon_client.get(LIST, {param: value})

    assert param in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_min_price_above_max_price_is_422(anon_client, priced):
    response = anon_client.get(LIST, {"min_price": "500", "max_price": "100"})

    assert "min_price" in assert_error(response, 422, "UNPROCESSABLE_ENTITY")["error"]["details"]


# --- seller -------------------------------------------------------------------------------------


@pytest.fixture
def two_sellers():
    alice = make_user(role=User.Role.SELLER, username="AliceShop", email="alice@example.com")
    bob = make_user(role=User.Role.SELLER, username="bob_store", email="bob@example.com")
    category = make_category()
    products = {
        "alice_new": make_product(seller=alice, category=category, created_at=ago(1)),
        "bob": make_product(seller=bob, category=category, created_at=ago(2)),
        "alice_old": make_product(seller=alice, category=category, created_at=ago(3)),
    }
    return alice, bob, products


@pytest.mark.parametrize("value", ["AliceShop", "aliceshop", "ALICESHOP", "uuid"])
def test_seller_filter_by_username_in_any_case_or_uuid(anon_client, two_sellers, value):
    alice, _bob, products = two_sellers
    value = str(alice.pk) if value == "uuid" else value

    response = anon_client.get(LIST, {"seller": value})

    assert ids(response) == pks(products["alice_new"], products["alice_old"])


def test_seller_filter_by_other_seller(anon_client, two_sellers):
    _alice, bob, products = two_sellers

    assert ids(anon_client.get(LIST, {"seller": "BOB_STORE"})) == pks(products["bob"])
    assert ids(anon_client.get(LIST, {"seller": str(bob.pk)})) == pks(products["bob"])


@pytest.mark.parametrize("value", ["nobody", "5b1c2d3e-0000-4000-8000-000000000000"])
def test_unknown_seller_is_400(anon_client, two_sellers, value):
    response = anon_client.get(LIST, {"seller": value})

    assert "seller" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


# --- is_featured, in_stock ----------------------------------------------------------------------


@pytest.fixture
def flagged(seller):
    """Newest first: featured in stock, plain in stock, featured sold out, plain sold out."""
    category = make_category()
    return {
        "featured_stocked": make_product(
            seller=seller, category=category, is_featured=True, stock=3, created_at=ago(1)
        ),
        "plain_stocked": make_product(seller=seller, category=category, stock=1, created_at=ago(2)),
        "featured_empty": make_product(seller=seller, category=category, is_featured=True, stock=0, created_at=ago(3)),
        "plain_empty": make_product(seller=seller, category=category, stock=0, created_at=ago(4)),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"is_featured": "true"}, ["featured_stocked", "featured_empty"]),
        ({"is_featured": "false"}, ["plain_stocked", "plain_empty"]),
        ({"in_stock": "true"}, ["featured_stocked", "plain_stocked"]),
        ({"in_stock": "false"}, ["featured_empty", "plain_empty"]),
        ({"is_featured": "true", "in_stock": "false"}, ["featured_empty"]),
        ({"is_featured": "false", "in_stock": "true"}, ["plain_stocked"]),
    ],
)
def test_boolean_filters(anon_client, flagged, params, expected):
    response = anon_client.get(LIST, params)

    assert ids(response) == pks(*(flagged[name] for name in expected))
    assert all(p["in_stock"] is (p["stock"] > 0) for p in response.json()["results"])


@pytest.mark.parametrize(
    ("param", "value"),
    [("is_featured", "maybe"), ("is_featured", "1"), ("is_featured", "yes"), ("in_stock", "yes"), ("in_stock", "2")],
)
def test_bad_boolean_is_400_naming_the_parameter(anon_client, flagged, param, value):
    response = anon_client.get(LIST, {param: value})

    assert param in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


# --- search on the plain list -------------------------------------------------------------------


def test_search_on_the_list_matches_name_or_description_newest_first(anon_client, seller):
    category = make_category()
    in_name = make_product(seller=seller, category=category, name="Brass Lamp", created_at=ago(3))
    in_description = make_product(
        seller=seller, category=category, name="Oak Desk", description="Comes with a lamp.", created_at=ago(1)
    )
    make_product(seller=seller, category=category, name="Steel Chair", description="Sturdy.", created_at=ago(2))

    response = anon_client.get(LIST, {"search": "lamp"})

    # No relevance ranking on the plain list: the default newest-first order stays.
    assert ids(response) == pks(in_description, in_name)
    assert response.json()["count"] == 2


def test_search_on_the_list_requires_every_word(anon_client, seller):
    category = make_category()
    both = make_product(seller=seller, category=category, name="Wireless Mouse", created_at=ago(3))
    split = make_product(
        seller=seller, category=category, name="Wireless Charger", description="Fits a mouse pad.", created_at=ago(1)
    )
    make_product(seller=seller, category=category, name="Wireless Keyboard", created_at=ago(2))
    make_product(seller=seller, category=category, name="Gaming Mouse", created_at=ago(4))

    response = anon_client.get(LIST, {"search": "wireless mouse"})

    assert ids(response) == pks(split, both), [p["name"] for p in response.json()["results"]]


def test_blank_search_on_the_list_is_ignored(anon_client, flagged):
    response = anon_client.get(LIST, {"search": "   "})

    assert response.json()["count"] == 4


def test_overlong_search_on_the_list_is_400(anon_client, flagged):
    response = anon_client.get(LIST, {"search": "x" * 5000})

    assert "search" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


# --- ordering -----------------------------------------------------------------------------------


@pytest.fixture
def ordered(seller):
    """Distinct price, created_at and name, each in a different order."""
    category = make_category()
    return {
        "a": make_product(seller=seller, category=category, name="Bravo", price=Decimal("30.00"), created_at=ago(3)),
        "b": make_product(seller=seller, category=category, name="Charlie", price=Decimal("10.00"), created_at=ago(1)),
        "c": make_product(seller=seller, category=category, name="Alpha", price=Decimal("20.00"), created_at=ago(2)),
    }


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["b", "c", "a"]),
        ("-price", ["a", "c", "b"]),
        ("created_at", ["a", "c", "b"]),
        ("-created_at", ["b", "c", "a"]),
        ("name", ["c", "a", "b"]),
        ("-name", ["b", "a", "c"]),
    ],
)
def test_ordering(anon_client, ordered, ordering, expected):
    response = anon_client.get(LIST, {"ordering": ordering})

    assert ids(response) == pks(*(ordered[key] for key in expected))


def test_default_order_is_newest_first(anon_client, ordered):
    assert ids(anon_client.get(LIST)) == pks(ordered["b"], ordered["c"], ordered["a"])


@pytest.mark.parametrize("ordering", ["price", "-price", "name", "created_at", None])
def test_ties_are_broken_deterministically_across_pages(anon_client, seller, ordering):
    category = make_category()
    same_time = ago(1)
    first = make_product(seller=seller, category=category, name="Twin", price=Decimal("5.00"), created_at=same_time)
    second = make_product(
        seller=make_user(role=User.Role.SELLER), category=category, name="Twin", price=Decimal("5.00"),
        created_at=same_time,
    )  # fmt: skip
    params = {"page_size": 1} if ordering is None else {"page_size": 1, "ordering": ordering}

    pages = [ids(anon_client.get(LIST, {**params, "page": page})) for page in (1, 2)]
    again = [ids(anon_client.get(LIST, {**params, "page": page})) for page in (1, 2)]

    assert sorted(pages[0] + pages[1]) == sorted(pks(first, second))
    assert pages[0] != pages[1]
    assert again == pages


@pytest.mark.parametrize(
    "ordering",
    [
        "password",
        "seller__password",
        "-seller__email",
        "price,seller__is_staff",
        "seller__is_staff",
        "stock",
        "id; DROP TABLE app_product",
    ],
)
def test_unknown_ordering_is_400(anon_client, ordered, ordering):
    response = anon_client.get(LIST, {"ordering": ordering})

    assert "ordering" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


# --- combined, paginated --------------------------------------------------------------------------


def test_filters_combine(anon_client, tree, seller):
    expensive = make_product(seller=seller, category=tree["smartphones"], price=Decimal("300.00"), stock=2)
    on_bound = make_product(seller=seller, category=tree["electronics"], price=Decimal("100.00"), stock=1)
    make_product(seller=seller, category=tree["phones"], price=Decimal("250.00"), stock=0)  # sold out
    make_product(seller=seller, category=tree["phones"], price=Decimal("99.99"), stock=9)  # too cheap
    make_product(seller=seller, category=tree["books"], price=Decimal("500.00"), stock=9)  # other category

    response = anon_client.get(
        LIST, {"category": "electronics", "min_price": "100", "in_stock": "true", "ordering": "-price"}
    )

    assert ids(response) == pks(expensive, on_bound)
    assert response.json()["count"] == 2


def test_pagination_counts_the_filtered_list(anon_client, seller):
    category = make_category()
    featured = [
        make_product(seller=seller, category=category, is_featured=True, created_at=ago(i)) for i in range(1, 4)
    ]
    for i in range(4, 8):
        make_product(seller=seller, category=category, created_at=ago(i))

    page1 = anon_client.get(LIST, {"is_featured": "true", "page_size": 2})
    page2 = anon_client.get(LIST, {"is_featured": "true", "page_size": 2, "page": 2})

    body1, body2 = page1.json(), page2.json()
    assert (body1["count"], body2["count"]) == (3, 3)
    assert ids(page1) == pks(*featured[:2])
    assert ids(page2) == pks(featured[2])
    assert "is_featured=true" in body1["next"]
    assert body2["next"] is None
    assert_error(anon_client.get(LIST, {"is_featured": "true", "page_size": 2, "page": 3}), 404, "NOT_FOUND")


# --- the same filters on the other product lists ---------------------------------------------------


@pytest.fixture
def catalog(tree, seller):
    """Featured products named "Zeta ..." in the tree, plus a non-featured one and a book."""
    return {
        "cheap": make_product(
            seller=seller, category=tree["smartphones"], name="Zeta Cheap", price=Decimal("10.00"),
            stock=4, is_featured=True, created_at=ago(1),
        ),
        "mid": make_product(
            seller=seller, category=tree["phones"], name="Zeta Mid", price=Decimal("50.00"),
            stock=0, is_featured=True, created_at=ago(2),
        ),
        "dear": make_product(
            seller=seller, category=tree["electronics"], name="Zeta Dear", price=Decimal("90.00"),
            stock=7, is_featured=True, created_at=ago(3),
        ),
        "plain": make_product(
            seller=seller, category=tree["phones"], name="Zeta Plain", price=Decimal("60.00"),
            stock=2, created_at=ago(4),
        ),
        "book": make_product(
            seller=seller, category=tree["books"], name="Zeta Book", price=Decimal("20.00"),
            stock=5, is_featured=True, created_at=ago(5),
        ),
    }  # fmt: skip


def category_products(slug="electronics"):
    return reverse("api:category-products", args=[slug])


@pytest.mark.parametrize(
    ("url", "extra", "params", "expected"),
    [
        (FEATURED, {}, {"category": "phones"}, ["cheap", "mid"]),
        (FEATURED, {}, {"min_price": "20", "max_price": "90", "ordering": "price"}, ["book", "mid", "dear"]),
        (FEATURED, {}, {"in_stock": "true", "ordering": "-price"}, ["dear", "book", "cheap"]),
        (FEATURED, {}, {"search": "dear"}, ["dear"]),
        (SEARCH, {"q": "zeta"}, {"category": "phones", "ordering": "price"}, ["cheap", "mid", "plain"]),
        (SEARCH, {"q": "zeta"}, {"is_featured": "false"}, ["plain"]),
        (SEARCH, {"q": "zeta"}, {"min_price": "50", "in_stock": "true", "ordering": "name"}, ["dear", "plain"]),
        (category_products(), {}, {"in_stock": "true", "ordering": "price"}, ["cheap", "plain", "dear"]),
        (category_products(), {}, {"is_featured": "true", "max_price": "50"}, ["cheap", "mid"]),
        (category_products(), {}, {"category": "phones", "ordering": "-name"}, ["plain", "mid", "cheap"]),
        (category_products("phones"), {}, {"min_price": "50", "ordering": "-price"}, ["plain", "mid"]),
    ],
)
def test_filters_work_on_every_product_list(anon_client, catalog, url, extra, params, expected):
    response = anon_client.get(url, {**extra, **params})

    assert ids(response) == pks(*(catalog[name] for name in expected))
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    ("url", "extra"),
    [(LIST, {}), (FEATURED, {}), (SEARCH, {"q": "zeta"}), (category_products(), {})],
)
@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"min_price": "abc"}, 400, "VALIDATION_ERROR", "min_price"),
        ({"max_price": "NaN"}, 400, "VALIDATION_ERROR", "max_price"),
        ({"min_price": "500", "max_price": "100"}, 422, "UNPROCESSABLE_ENTITY", "min_price"),
        ({"category": "ghost"}, 400, "VALIDATION_ERROR", "category"),
        ({"seller": "nobody"}, 400, "VALIDATION_ERROR", "seller"),
        ({"is_featured": "maybe"}, 400, "VALIDATION_ERROR", "is_featured"),
        ({"in_stock": "yes"}, 400, "VALIDATION_ERROR", "in_stock"),
        ({"ordering": "seller__password"}, 400, "VALIDATION_ERROR", "ordering"),
    ],
)
def test_bad_filters_are_refused_on_every_product_list(anon_client, catalog, url, extra, params, status, code, field):
    response = anon_client.get(url, {**extra, **params})

    assert field in assert_error(response, status, code)["error"]["details"]


# --- hidden products ---------------------------------------------------------------------------------


@pytest.fixture
def hidden_world(tree, seller):
    """A visible lamp, an inactive lamp of the same seller, and a lamp of a deactivated seller;
    all featured, in stock, in the same category, at the same price."""
    gone = make_user(role=User.Role.SELLER, username="GoneSeller", email="gone@example.com", is_active=False)
    common = {"category": tree["phones"], "price": Decimal("50.00"), "stock": 5, "is_featured": True}
    return {
        "visible": make_product(seller=seller, name="Visible Lamp", created_at=ago(3), **common),
        "inactive": make_product(seller=seller, name="Hidden Lamp", is_active=False, created_at=ago(1), **common),
        "orphaned": make_product(seller=gone, name="Ghost Lamp", created_at=ago(2), **common),
        "gone": gone,
    }


@pytest.mark.parametrize(
    ("url", "params", "visible"),
    [
        (LIST, {}, True),
        (LIST, {"seller": "<seller>"}, True),
        (LIST, {"seller": "GoneSeller"}, False),
        (LIST, {"seller": "goneseller"}, False),
        (LIST, {"seller": "<gone-uuid>"}, False),
        (LIST, {"category": "phones", "min_price": "50", "max_price": "50", "in_stock": "true"}, True),
        (LIST, {"is_featured": "true", "ordering": "name"}, True),
        (LIST, {"search": "lamp"}, True),
        (LIST, {"search": "ghost"}, False),
        (LIST, {"search": "hidden"}, False),
        (FEATURED, {}, True),
        (FEATURED, {"seller": "GoneSeller"}, False),
        (FEATURED, {"ordering": "-created_at"}, True),
        (SEARCH, {"q": "lamp"}, True),
        (SEARCH, {"q": "lamp", "ordering": "-price"}, True),
        (SEARCH, {"q": "ghost lamp"}, False),
        (SEARCH, {"q": "hidden"}, False),
        (SEARCH, {"q": "lamp", "seller": "GoneSeller"}, False),
        (category_products("phones"), {}, True),
        (category_products("electronics"), {"seller": "<gone-uuid>"}, False),
        (category_products("phones"), {"is_featured": "true", "ordering": "name"}, True),
    ],
)
def test_hidden_products_never_appear_whatever_the_filters(anon_client, hidden_world, seller, url, params, visible):
    substitutes = {"<seller>": seller.username, "<gone-uuid>": str(hidden_world["gone"].pk)}
    params = {key: substitutes.get(value, value) for key, value in params.items()}

    response = anon_client.get(url, params)

    expected = pks(hidden_world["visible"]) if visible else []
    assert ids(response) == expected
    assert response.json()["count"] == len(expected)


def test_filtersets_share_their_form_class_but_never_their_state(seller):
    """The form class is built once per FilterSet class; each instance filters with its own data."""
    from app.filters import ProductFilter
    from app.models import Product

    phones, books = make_category(name="Phones"), make_category(name="Books")
    phone = make_product(seller=seller, category=phones, name="Phone", price=Decimal("300"))
    book = make_product(seller=seller, category=books, name="Book", price=Decimal("20"))

    first = ProductFilter({"category": "phones"}, queryset=Product.objects.all())
    second = ProductFilter({"category": "books", "max_price": "50"}, queryset=Product.objects.all())

    assert type(first.form) is type(second.form)
    assert [p.pk for p in first.qs] == [phone.pk]
    assert [p.pk for p in second.qs] == [book.pk]
    assert first.filters["category"] is not second.filters["category"]
    assert first.filters["category"].parent is first
    assert second.filters["category"].parent is second


def test_filter_forms_share_their_fields_and_nothing_of_one_request_reaches_the_next(anon_client, priced):
    """Forms of one FilterSet class share its fields (no deep copy per request); a form's data,
    errors and cleaned values stay its own."""
    from django.http import QueryDict

    from app.filters import ProductFilter

    bad, good = ProductFilter(QueryDict("min_price=abc")), ProductFilter(QueryDict("min_price=500"))
    assert bad.form.fields["min_price"] is good.form.fields["min_price"]
    assert bad.form.fields is not good.form.fields

    assert (
        "min_price"
        in assert_error(anon_client.get(LIST, {"min_price": "abc"}), 400, "VALIDATION_ERROR")["error"]["details"]
    )
    response = anon_client.get(LIST, {"min_price": "500"})
    assert response.status_code == 200
    assert ids(response) == pks(priced["500.00"], priced["500.01"])
    assert (
        "min_price"
        in assert_error(anon_client.get(LIST, {"min_price": "-1"}), 400, "VALIDATION_ERROR")["error"]["details"]
    )
    assert ids(anon_client.get(LIST)) == pks(*priced.values())
