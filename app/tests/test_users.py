"""Contract section 2, users/*: admin list, self-or-admin detail and edit, deactivation."""

import pytest
from django.urls import reverse

from app import services
from app.models import Product, User
from app.tests.factories import make_product, make_user
from app.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db


def detail(user):
    return reverse("api:user-detail", args=[user.pk])


# --- list ---------------------------------------------------------------------------


def test_admin_lists_users_paginated(admin_client_api, customer, seller):
    response = admin_client_api.get(reverse("api:user-list"))

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["count"] == 3
    assert {u["email"] for u in body["results"]} >= {customer.email, seller.email}
    assert all("password" not in u for u in body["results"])


@pytest.mark.parametrize("role", ["customer", "seller"])
def test_non_admins_cannot_list_users(role):
    user = make_user(role=role)

    assert_error(client_for(user).get(reverse("api:user-list")), 403, "PERMISSION_DENIED")


def test_premium_customer_cannot_list_users():
    assert_error(client_for(make_user(is_premium=True)).get(reverse("api:user-list")), 403, "PERMISSION_DENIED")


def test_anonymous_cannot_list_users(anon_client):
    assert_error(anon_client.get(reverse("api:user-list")), 401, "NOT_AUTHENTICATED")


def test_list_filters_by_role_and_search(admin_client_api, customer, seller):
    make_user(email="findme@example.com", username="needle", role=User.Role.SELLER)

    by_role = admin_client_api.get(reverse("api:user-list"), {"role": "seller"}).json()
    by_search = admin_client_api.get(reverse("api:user-list"), {"search": "NEEDLE"}).json()
    both = admin_client_api.get(reverse("api:user-list"), {"search": "find", "role": "customer"}).json()

    assert {u["role"] for u in by_role["results"]} == {"seller"}
    assert by_role["count"] == 2
    assert [u["username"] for u in by_search["results"]] == ["needle"]
    assert both["count"] == 0


def test_list_with_an_unknown_role_is_400(admin_client_api):
    response = admin_client_api.get(reverse("api:user-list"), {"role": "wizard"})

    assert "role" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_list_query_count_is_fixed(admin_client_api, django_assert_num_queries, uncached_path):
    for _ in range(5):
        make_user()
    # user lookup with revocation check, COUNT(*), the page
    with django_assert_num_queries(3):
        admin_client_api.get(reverse("api:user-list"), {"page_size": 1})
    with django_assert_num_queries(3):
        admin_client_api.get(reverse("api:user-list"), {"page_size": 100})


def test_users_cannot_be_created_here(admin_client_api):
    response = admin_client_api.post(reverse("api:user-list"), {"email": "x@example.com"}, format="json")

    assert_error(response, 405, "METHOD_NOT_ALLOWED")


# --- detail -------------------------------------------------------------------------


def test_user_sees_themself(customer_client, customer):
    response = customer_client.get(detail(customer))

    assert response.status_code == 200
    assert response.json()["data"]["id"] == str(customer.pk)
    assert "is_active" not in response.json()["data"]


def test_user_cannot_see_another_user(customer_client):
    assert_error(customer_client.get(detail(make_user())), 403, "PERMISSION_DENIED")


def test_admin_sees_anyone_with_is_active(admin_client_api, customer):
    response = admin_client_api.get(detail(customer))

    assert response.status_code == 200
    assert response.json()["data"]["is_active"] is True


@pytest.mark.parametrize("path", ["not-a-uuid", "0", "5b1c2d3e-0000-4000-8000-000000000000"])
def test_unknown_or_malformed_id_is_404(admin_client_api, path):
    response = admin_client_api.get(f"/api/v1/users/{path}/")

    assert_error(response, 404, "NOT_FOUND")


def test_detail_query_count(customer_client, customer, django_assert_num_queries, uncached_path):
    with django_assert_num_queries(2):  # authenticated user, the object
        customer_client.get(detail(customer))


# --- update -------------------------------------------------------------------------


def test_user_updates_own_names(customer_client, customer):
    response = customer_client.patch(detail(customer), {"last_name": "Hopper"}, format="json")

    assert response.status_code == 200
    assert response.json()["data"]["last_name"] == "Hopper"
    customer.refresh_from_db()
    assert customer.last_name == "Hopper"


def test_user_cannot_raise_own_privileges(customer_client, customer):
    response = customer_client.patch(
        detail(customer),
        {
            "role": "admin",
            "is_premium": True,
            "is_active": False,
            "is_staff": True,
            "date_joined": "2000-01-01",
        },
        format="json",
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.role, customer.is_premium, customer.is_active, customer.is_staff) == (
        "customer",
        False,
        True,
        False,
    )
    assert customer.date_joined.year != 2000


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_user_cannot_change_another_user(customer_client, method):
    other = make_user(first_name="Untouched")
    body = {"first_name": "Changed", "username": "changed", "email": "changed@example.com"}

    response = getattr(customer_client, method)(detail(other), body, format="json")

    assert_error(response, 403, "PERMISSION_DENIED")
    other.refresh_from_db()
    assert (other.first_name, other.is_active) == ("Untouched", True)


def test_admin_sets_role_premium_and_active(admin_client_api, customer):
    response = admin_client_api.patch(
        detail(customer), {"role": "seller", "is_premium": True, "is_active": False}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["data"]["role"] == "seller"
    customer.refresh_from_db()
    assert (customer.role, customer.is_premium, customer.is_active) == ("seller", True, False)


def test_admin_update_with_a_taken_email_is_409(admin_client_api, customer):
    other = make_user()

    response = admin_client_api.patch(detail(customer), {"email": other.email.upper()}, format="json")

    assert_error(response, 409, "CONFLICT")
    customer.refresh_from_db()
    assert customer.email != other.email


def test_admin_update_with_an_unknown_role_is_400(admin_client_api, customer):
    response = admin_client_api.patch(detail(customer), {"role": "overlord"}, format="json")

    assert "role" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    customer.refresh_from_db()
    assert customer.role == "customer"


# --- deactivate ---------------------------------------------------------------------


def test_admin_delete_deactivates_and_ends_every_session(anon_client, admin_client_api, seller):
    tokens = services.token_pair(seller)
    product = make_product(seller=seller)

    response = admin_client_api.delete(detail(seller))

    assert response.status_code == 204
    assert response.content == b""
    seller.refresh_from_db()
    assert seller.is_active is False
    assert Product.objects.filter(pk=product.pk).exists()
    assert not Product.objects.active().filter(pk=product.pk).exists()
    user_client = client_for(None)
    user_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert_error(user_client.get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")
    response = anon_client.post(reverse("api:refresh"), {"refresh": tokens["refresh"]}, format="json")
    assert_error(response, 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("role", ["customer", "seller"])
def test_non_admin_cannot_delete_even_themself(role):
    user = make_user(role=role)

    assert_error(client_for(user).delete(detail(user)), 403, "PERMISSION_DENIED")
    user.refresh_from_db()
    assert user.is_active


def test_admin_cannot_deactivate_themself(admin_client_api, admin_user):
    response = admin_client_api.delete(detail(admin_user))

    assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_user_responses_are_not_cacheable(customer_client, customer):
    response = customer_client.get(detail(customer))

    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "customer"}, {"role": "seller"}])
def test_admin_cannot_lock_themself_out_through_an_update(admin_client_api, admin_user, change):
    response = admin_client_api.patch(detail(admin_user), change, format="json")

    assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    admin_user.refresh_from_db()
    assert (admin_user.is_active, admin_user.role) == (True, "admin")
    assert admin_client_api.get(reverse("api:profile")).status_code == 200


def test_admin_may_still_edit_their_own_names(admin_client_api, admin_user):
    response = admin_client_api.patch(detail(admin_user), {"first_name": "Root", "role": "admin"}, format="json")

    assert response.status_code == 200
    admin_user.refresh_from_db()
    assert admin_user.first_name == "Root"
