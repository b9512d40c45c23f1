"""`seed_demo` makes a usable demo catalog, changes nothing the second time, and seeds no admin."""

import pytest
from django.core.management import call_command

from app.models import Category, Product, User

pytestmark = pytest.mark.django_db


def counts():
    return Category.objects.count(), User.objects.count(), Product.objects.count()


def test_seed_makes_a_tree_users_and_products(capsys):
    call_command("seed_demo")

    assert Category.objects.filter(parent__isnull=True).exists()
    assert Category.objects.filter(parent__isnull=False).exists()
    assert User.objects.filter(role=User.Role.SELLER).exists()
    assert User.objects.filter(role=User.Role.CUSTOMER, is_premium=True).exists()
    assert Product.objects.filter(is_featured=True).exists()
    assert Product.objects.filter(stock=0).exists()
    assert not User.objects.filter(role=User.Role.ADMIN).exists()
    assert not User.objects.filter(is_staff=True).exists()
    assert "createsuperuser" in capsys.readouterr().out


def test_seed_is_idempotent():
    call_command("seed_demo")
    first = counts()

    call_command("seed_demo")

    assert counts() == first


def test_bulk_products_top_up_to_the_target_and_no_further():
    call_command("seed_demo", products=120, batch_size=50)
    generated = Product.objects.filter(sku__startswith="BULK-")
    assert generated.count() == 120

    call_command("seed_demo", products=120, batch_size=50)
    assert generated.count() == 120

    call_command("seed_demo", products=150, batch_size=50)
    assert generated.count() == 150
    assert generated.values("slug").distinct().count() == 150


def test_a_bulk_load_is_visible_on_the_next_read(
    memory_caches, settings, anon_client, django_capture_on_commit_callbacks
):
    """bulk_create sends no signal: the seed bumps the catalog version itself, so a cached page
    or a remembered count never outlives it."""
    settings.RESPONSE_CACHE = True
    call_command("seed_demo")
    url = "/api/v1/products/"
    before = anon_client.get(url).json()["count"]
    assert anon_client.get(url)["X-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", products=30, batch_size=50)

    response = anon_client.get(url)
    assert response.status_code == 200
    assert "X-Cache" not in response
    assert response.json()["count"] == Product.objects.active().count() > before
