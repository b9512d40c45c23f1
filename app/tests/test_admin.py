"""Django admin: every model's list, add and change pages load, with search and autocomplete."""

import pytest
from django.urls import reverse

from app.models import Category, Product, ProductImage, User
from app.tests.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def image(tmp_path):
    return ProductImage.objects.create(product=make_product(), image="products/x/a.png", alt_text="front")


@pytest.mark.parametrize("model", [User, Category, Product, ProductImage])
def test_changelist_and_add_pages_load(admin_web, model, image):
    opts = model._meta

    changelist = admin_web.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), {"q": "a"})
    add = admin_web.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))

    assert changelist.status_code == 200
    assert add.status_code == 200


@pytest.mark.parametrize("model", [User, Category, Product, ProductImage])
def test_change_page_loads(admin_web, model, image):
    obj = model.objects.first()
    opts = model._meta

    response = admin_web.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))

    assert response.status_code == 200


def test_product_change_page_shows_images_inline(admin_web, image):
    response = admin_web.get(reverse("admin:app_product_change", args=[image.product_id]))

    assert b"front" in response.content


def test_category_autocomplete_answers_json(admin_web, image):
    response = admin_web.get(
        reverse("admin:autocomplete"),
        {"app_label": "app", "model_name": "product", "field_name": "category", "term": "Cat"},
    )

    assert response.status_code == 200
    assert response.json()["results"]


def test_non_staff_user_is_sent_to_login(client, customer):
    client.force_login(customer)

    response = client.get(reverse("admin:app_product_changelist"))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_createsuperuser_noinput_makes_an_admin_from_the_environment(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Boss@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-Long-admin-pass-1")

    call_command("createsuperuser", interactive=False, verbosity=0)

    user = User.objects.get(email="boss@example.com")
    assert (user.role, user.is_staff, user.is_superuser) == ("admin", True, True)
    assert user.check_password("a-Long-admin-pass-1")
