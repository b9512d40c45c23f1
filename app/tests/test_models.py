"""Rules the database itself enforces: a bad row is refused whatever code path writes it."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from app.models import Category, Product, User, equal_ignoring_case
from app.tests.factories import make_category, make_product, make_user

pytestmark = pytest.mark.django_db


def refused(**kwargs):
    """Run the write in a savepoint and assert the database refuses it."""
    return pytest.raises(IntegrityError, **kwargs)


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("-1.00")])
def test_price_must_be_positive(price):
    with refused(), transaction.atomic():
        make_product(price=price)
    assert not Product.objects.filter(price=price).exists()


def test_price_bypassing_the_orm_validation_is_still_refused():
    product = make_product()
    with refused(), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(price=Decimal("0.00"))
    product.refresh_from_db()
    assert product.price == Decimal("9.99")


def test_stock_cannot_go_negative():
    product = make_product(stock=1)
    with refused(), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(stock=-1)
    product.refresh_from_db()
    assert product.stock == 1


def test_sku_is_unique_when_present():
    make_product(sku="SKU-1")
    with refused(), transaction.atomic():
        make_product(sku="SKU-1")
    assert Product.objects.filter(sku="SKU-1").count() == 1


def test_products_without_sku_do_not_collide():
    first, second = make_product(sku=""), make_product(sku=None)

    assert first.sku is None
    assert second.sku is None


def test_blank_sku_cannot_be_written_behind_the_model():
    product = make_product()
    with refused(), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(sku="")


def test_same_seller_cannot_reuse_a_name_in_any_case():
    seller = make_user(role=User.Role.SELLER)
    make_product(seller=seller, name="Blue Phone")
    with refused(), transaction.atomic():
        make_product(seller=seller, name="BLUE phone")
    assert Product.objects.filter(seller=seller).count() == 1


def test_two_sellers_may_share_a_name_and_get_distinct_slugs():
    first, second = make_product(name="Blue Phone"), make_product(name="Blue Phone")

    assert first.slug == "blue-phone"
    assert second.slug == "blue-phone-2"


def test_category_name_is_unique_case_insensitively():
    make_category(name="Phones")
    with refused(), transaction.atomic():
        make_category(name="pHONES")
    assert Category.objects.count() == 1


def test_category_cannot_be_its_own_parent():
    category = make_category()
    with refused(), transaction.atomic():
        Category.objects.filter(pk=category.pk).update(parent=category.pk)


def test_category_slug_is_made_from_the_name_and_kept_unique():
    first, second = make_category(name="Home & Garden"), make_category(name="Home Garden")

    assert first.slug == "home-garden"
    assert second.slug == "home-garden-2"


def test_category_with_products_cannot_be_deleted():
    product = make_product()
    with pytest.raises(ProtectedError), transaction.atomic():
        product.category.delete()
    assert Category.objects.filter(pk=product.category_id).exists()


def test_category_with_children_cannot_be_deleted():
    parent = make_category()
    make_category(parent=parent)
    with pytest.raises(ProtectedError), transaction.atomic():
        parent.delete()
    assert Category.objects.filter(pk=parent.pk).exists()


def test_email_is_stored_lower_case_and_unique_case_insensitively():
    user = make_user(email="Alice@Example.COM")
    assert user.email == "alice@example.com"
    with refused(), transaction.atomic():
        make_user(email="ALICE@example.com")
    assert User.objects.count() == 1


def test_email_written_behind_the_model_is_still_unique_case_insensitively():
    make_user(email="bob@example.com")
    other = make_user(email="other@example.com")
    with refused(), transaction.atomic():
        User.objects.filter(pk=other.pk).update(email="BOB@example.com")


def test_username_is_unique_case_insensitively():
    make_user(username="Alice")
    with refused(), transaction.atomic():
        make_user(username="alice")


def test_role_must_be_known():
    user = make_user()
    with refused(), transaction.atomic():
        User.objects.filter(pk=user.pk).update(role="superhero")


def test_superuser_gets_admin_role():
    user = User.objects.create_superuser(email="Root@Example.com", username="root", password="x-Pass-123")

    assert user.role == User.Role.ADMIN
    assert user.is_staff
    assert user.email == "root@example.com"


def test_login_name_lookup_ignores_case():
    user = make_user(email="carol@example.com")

    assert User.objects.get_by_natural_key("CAROL@example.com") == user


def test_visible_to_hides_inactive_products_and_deactivated_sellers():
    seller = make_user(role=User.Role.SELLER)
    public = make_product(seller=seller)
    hidden = make_product(seller=seller, is_active=False)
    gone_seller = make_user(role=User.Role.SELLER, is_active=False)
    orphan = make_product(seller=gone_seller)
    admin = User.objects.create_superuser(email="a@example.com", username="a", password="x-Pass-123")

    assert set(Product.objects.visible_to(None)) == {public}
    assert set(Product.objects.visible_to(seller)) == {public, hidden}
    assert set(Product.objects.visible_to(admin)) == {public, hidden, orphan}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_case_insensitive_lookups_read_the_unique_constraints_indexes(seller):
    """`?seller=`, and the duplicate checks of registration, profiles, categories and products,
    find a value in the index of its case-insensitive unique constraint (LOWER), where
    `__iexact` (UPPER) would read every row."""
    make_product(seller=seller, name="Desk Lamp")
    for i in range(30):  # a seller with many products: their seller's index alone would not do
        make_product(seller=seller, name=f"Lamp {i}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE app_product")
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: a scan would win otherwise
    plans = {
        "user_username_ci_unique": User.objects.by_ref(seller.username.upper()),
        "user_email_ci_unique": User.objects.filter(equal_ignoring_case("email", seller.email.upper())),
        "category_name_ci_unique": Category.objects.filter(equal_ignoring_case("name", "LAMPS")),
        "product_seller_name_ci_unique": Product.objects.filter(
            equal_ignoring_case("name", "desk lamp"), seller_id=seller.pk
        ),
    }

    for index, queryset in plans.items():
        plan = queryset.order_by().explain()  # unordered, as the checks' exists()
        assert index in plan, plan
    assert User.objects.by_ref(seller.username.upper()).get() == seller
    assert plans["product_seller_name_ci_unique"].get().name == "Desk Lamp"
