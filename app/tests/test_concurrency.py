"""Races with real threads against PostgreSQL: the database decides, the loser gets a clean answer."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.urls import reverse

from app.models import Category, Product, User
from app.tests.factories import make_category, make_product, make_user
from app.tests.helpers import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite runs one writer at a time; these races are run against PostgreSQL (make test-postgres)",
    ),
]


def race(calls) -> Counter:
    """Run the calls at once in threads; count the status codes."""

    def run(call):
        try:
            return call().status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return Counter(pool.map(run, calls))


def test_same_category_name_at_once_gives_one_201_and_409s():
    client = client_for(make_user(role=User.Role.SELLER))

    statuses = race([lambda: client.post(reverse("api:category-list"), {"name": "Gadgets"}, format="json")] * 10)

    assert statuses == Counter({201: 1, 409: 9})
    assert Category.objects.filter(name__iexact="gadgets").count() == 1


def test_same_sku_at_once_gives_one_201_and_409s():
    category = make_category(name="Phones")
    sellers = [client_for(make_user(role=User.Role.SELLER)) for _ in range(8)]
    body = {"name": "Phone", "price": "10.00", "category": category.slug, "sku": "SAME-1"}

    statuses = race([lambda c=c: c.post(reverse("api:product-list"), body, format="json") for c in sellers])

    assert statuses == Counter({201: 1, 409: 7})
    assert Product.objects.filter(sku="SAME-1").count() == 1


def test_same_email_registered_at_once_gives_one_201_and_409s():
    def register(i):
        body = {"email": "race@example.com", "username": f"racer{i}", "password": "pl4id-Unicorn-rides"}
        return lambda: client_for(None).post(reverse("api:register"), body, format="json")

    statuses = race([register(i) for i in range(5)])

    assert statuses == Counter({201: 1, 409: 4})
    assert User.objects.filter(email="race@example.com").count() == 1


def test_parallel_stock_decrements_never_lose_one_or_go_below_zero():
    seller = make_user(role=User.Role.SELLER)
    product = make_product(seller=seller, stock=15)
    client = client_for(seller)
    url = reverse("api:product-detail", args=[product.pk])

    statuses = race([lambda: client.patch(url, {"stock_delta": -1}, format="json")] * 20)

    assert statuses == Counter({200: 15, 422: 5})
    product.refresh_from_db()
    assert product.stock == 0


def test_crossed_category_moves_never_save_a_cycle():
    a, b = make_category(name="A"), make_category(name="B")
    client = client_for(make_user(role=User.Role.ADMIN))

    statuses = race(
        [
            lambda: client.patch(reverse("api:category-detail", args=["a"]), {"parent": "b"}, format="json"),
            lambda: client.patch(reverse("api:category-detail", args=["b"]), {"parent": "a"}, format="json"),
        ]
    )

    assert statuses == Counter({200: 1, 422: 1})
    a.refresh_from_db()
    b.refresh_from_db()
    assert not (a.parent_id == b.pk and b.parent_id == a.pk)
