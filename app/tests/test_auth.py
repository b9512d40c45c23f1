"""Contract section 2, auth/*: register, login, refresh rotation, logout, profile, password change."""

from datetime import timedelta

import jwt
import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from app import services
from app.models import User
from app.tests.factories import TEST_PASSWORD, make_user
from app.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db

USER_FIELDS = {"id", "email", "username", "first_name", "last_name", "role", "is_premium", "date_joined"}
STRONG = "pl4id-Unicorn-rides"


def register(client, **overrides):
    body = {"email": "new@example.com", "username": "newbie", "password": STRONG, **overrides}
    return client.post(reverse("api:register"), body, format="json")


def login(client, email, password=TEST_PASSWORD):
    return client.post(reverse("api:login"), {"email": email, "password": password}, format="json")


def bearer(access: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- register -------------------------------------------------------------------


def test_register_creates_a_customer_and_returns_working_tokens(anon_client):
    response = register(anon_client, first_name="Ada")

    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "User registered"
    user = body["data"]["user"]
    assert set(user) == USER_FIELDS
    assert user["email"] == "new@example.com"
    assert user["role"] == "customer"
    assert user["first_name"] == "Ada"
    assert "password" not in response.content.decode()
    assert User.objects.get(email="new@example.com").check_password(STRONG)
    profile = bearer(body["data"]["tokens"]["access"]).get(reverse("api:profile"))
    assert profile.json()["data"]["id"] == user["id"]


def test_register_as_seller(anon_client):
    response = register(anon_client, role="seller")

    assert response.status_code == 201
    assert User.objects.get(email="new@example.com").role == User.Role.SELLER


def test_register_as_admin_is_refused(anon_client):
    response = register(anon_client, role="admin")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "role" in body["error"]["details"]
    assert not User.objects.exists()


def test_register_ignores_privilege_fields(anon_client):
    response = register(anon_client, role="seller", is_staff=True, is_superuser=True, is_premium=True, id="x")

    assert response.status_code == 201
    user = User.objects.get(email="new@example.com")
    assert (user.is_staff, user.is_superuser, user.is_premium) == (False, False, False)
    assert response.json()["data"]["user"]["is_premium"] is False


def test_register_normalises_email_to_lower_case(anon_client):
    response = register(anon_client, email="Mixed.Case@Example.COM")

    assert response.status_code == 201
    assert response.json()["data"]["user"]["email"] == "mixed.case@example.com"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"email": "TAKEN@example.com"}, "email"), ({"username": "Taken_Name"}, "username")],
)
def test_register_duplicate_is_409(anon_client, overrides, field):
    make_user(email="taken@example.com", username="taken_name")

    response = register(anon_client, **overrides)

    body = assert_error(response, 409, "CONFLICT")
    assert field in body["error"]["details"]
    assert User.objects.count() == 1


def test_register_race_lost_at_the_database_is_409_not_500(anon_client, monkeypatch):
    # The pre-check passes (as it would for two simultaneous requests), the constraint decides.
    make_user(email="taken@example.com", username="someone")
    real_conflicts = services._conflicts
    calls = []

    def check_misses_first_time(**kwargs):
        calls.append(kwargs)
        return {} if len(calls) == 1 else real_conflicts(**kwargs)

    monkeypatch.setattr(services, "_conflicts", check_misses_first_time)

    response = register(anon_client, email="taken@example.com")

    body = assert_error(response, 409, "CONFLICT")
    assert "email" in body["error"]["details"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["password", "12345678", "short", "newbie123", "new@example.com"])
def test_register_weak_password_is_400(anon_client, password):
    response = register(anon_client, password=password)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "password" in body["error"]["details"]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "username", "password"}),
        ({"email": "not-an-email", "username": "u", "password": STRONG}, {"email"}),
        ({"email": "a@example.com", "username": "bad name!", "password": STRONG}, {"username"}),
        ({"email": "a@example.com", "username": "a\u0000b", "password": STRONG}, {"username"}),
    ],
)
def test_register_bad_fields_are_400(anon_client, body, fields):
    response = anon_client.post(reverse("api:register"), body, format="json")

    details = assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert fields <= set(details)
    assert not User.objects.exists()


# --- login ------------------------------------------------------------------------


def test_login_returns_user_and_tokens_with_any_email_case(anon_client):
    user = make_user(email="dora@example.com")

    response = login(anon_client, "DORA@Example.com")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["user"]["id"] == str(user.pk)
    assert set(data["tokens"]) == {"access", "refresh"}
    assert response["Cache-Control"].find("no-store") >= 0


@pytest.mark.parametrize("case", ["wrong_password", "unknown_email", "deactivated"])
def test_login_failures_are_one_indistinguishable_401(anon_client, case):
    make_user(email="eve@example.com")
    make_user(email="gone@example.com", is_active=False)
    email, password = {
        "wrong_password": ("eve@example.com", "not-the-password"),
        "unknown_email": ("nobody@example.com", TEST_PASSWORD),
        "deactivated": ("gone@example.com", TEST_PASSWORD),
    }[case]

    response = login(anon_client, email, password)

    body = assert_error(response, 401, "AUTHENTICATION_FAILED")
    assert body["error"]["message"] == "Invalid email or password."


def test_login_missing_fields_is_400(anon_client):
    response = anon_client.post(reverse("api:login"), {"email": "x@example.com"}, format="json")

    assert "password" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


# --- refresh ----------------------------------------------------------------------


def refresh(client, token):
    return client.post(reverse("api:refresh"), {"refresh": token}, format="json")


def test_refresh_rotates_and_the_old_token_stops_working(anon_client, customer):
    old = services.token_pair(customer)["refresh"]

    first = refresh(anon_client, old)
    again = refresh(anon_client, old)

    assert first.status_code == 200
    assert set(first.json()["data"]) == {"access", "refresh"}
    assert first.json()["data"]["refresh"] != old
    assert bearer(first.json()["data"]["access"]).get(reverse("api:profile")).status_code == 200
    assert_error(again, 401, "AUTHENTICATION_FAILED")
    assert refresh(anon_client, first.json()["data"]["refresh"]).status_code == 200


def test_refresh_with_an_access_token_is_401(anon_client, customer):
    response = refresh(anon_client, services.token_pair(customer)["access"])

    assert_error(response, 401, "AUTHENTICATION_FAILED")


def test_refresh_with_an_expired_token_is_401(anon_client, customer):
    token = RefreshToken.for_user(customer)
    token.set_exp(from_time=timezone.now() - timedelta(days=30))

    assert_error(refresh(anon_client, str(token)), 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 2000])
def test_refresh_with_a_malformed_token_is_401(anon_client, token):
    assert_error(refresh(anon_client, token), 401, "AUTHENTICATION_FAILED")


def test_refresh_without_a_token_is_400(anon_client):
    response = anon_client.post(reverse("api:refresh"), {}, format="json")

    assert "refresh" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_refresh_of_a_deactivated_user_is_401(anon_client, customer):
    token = services.token_pair(customer)["refresh"]
    User.objects.filter(pk=customer.pk).update(is_active=False)

    assert_error(refresh(anon_client, token), 401, "AUTHENTICATION_FAILED")


def test_refresh_of_a_deleted_user_is_401(anon_client, customer):
    token = services.token_pair(customer)["refresh"]
    customer.delete()

    assert_error(refresh(anon_client, token), 401, "AUTHENTICATION_FAILED")


# --- logout -----------------------------------------------------------------------


def test_logout_kills_the_refresh_and_the_access_token(anon_client, customer):
    tokens = services.token_pair(customer)
    client = bearer(tokens["access"])

    response = client.post(reverse("api:logout"), {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"success": True, "data": None, "message": "Logged out"}
    assert_error(client.get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")
    assert_error(refresh(anon_client, tokens["refresh"]), 401, "AUTHENTICATION_FAILED")


def test_logout_holds_when_the_cache_forgets(customer):
    tokens = services.token_pair(customer)
    client = bearer(tokens["access"])
    client.post(reverse("api:logout"), {"refresh": tokens["refresh"]}, format="json")

    cache.clear()

    assert_error(client.get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")


def test_logout_leaves_other_sessions_alone(customer):
    mine, other = services.token_pair(customer), services.token_pair(customer)
    bearer(mine["access"]).post(reverse("api:logout"), {"refresh": mine["refresh"]}, format="json")

    assert bearer(other["access"]).get(reverse("api:profile")).status_code == 200


def test_logout_needs_authentication(anon_client, customer):
    response = anon_client.post(reverse("api:logout"), {"refresh": "x"}, format="json")

    assert_error(response, 401, "NOT_AUTHENTICATED")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [({}, 400, "VALIDATION_ERROR"), ({"refresh": "garbage"}, 401, "AUTHENTICATION_FAILED")],
)
def test_logout_with_a_bad_refresh_token(customer, body, status, code):
    client = client_for(customer)

    assert_error(client.post(reverse("api:logout"), body, format="json"), status, code)
    assert client.get(reverse("api:profile")).status_code == 200


def test_logout_with_someone_elses_refresh_token_is_400_and_revokes_nothing(customer):
    other = make_user()
    theirs = services.token_pair(other)["refresh"]
    client = client_for(customer)

    response = client.post(reverse("api:logout"), {"refresh": theirs}, format="json")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert refresh(client, theirs).status_code == 200
    assert client.get(reverse("api:profile")).status_code == 200


# --- bearer tokens ------------------------------------------------------------------


def test_no_credentials_is_401_with_a_bearer_challenge(anon_client):
    response = anon_client.get(reverse("api:profile"))

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer", "Token abc", "Bearer a.b.c"])
def test_garbage_authorization_header_is_401(anon_client, header):
    anon_client.credentials(HTTP_AUTHORIZATION=header)

    response = anon_client.get(reverse("api:profile"))

    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"AUTHENTICATION_FAILED", "NOT_AUTHENTICATED"}


def test_forged_tokens_are_401(customer):
    claims = dict(AccessToken.for_user(customer).payload)
    other_key = jwt.encode(claims, "another-key-entirely-0123456789abcdef", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")

    for token in (other_key, unsigned):
        assert_error(bearer(token).get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")


def test_refresh_token_used_as_bearer_is_401(customer):
    response = bearer(services.token_pair(customer)["refresh"]).get(reverse("api:profile"))

    assert_error(response, 401, "AUTHENTICATION_FAILED")


def test_expired_access_token_is_401(customer):
    token = AccessToken.for_user(customer)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1))

    assert_error(bearer(str(token)).get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")


def test_deactivated_users_access_token_is_401(customer):
    client = client_for(customer)
    User.objects.filter(pk=customer.pk).update(is_active=False)

    assert_error(client.get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")


def test_deleted_users_access_token_is_401(customer):
    client = client_for(customer)
    customer.delete()

    assert_error(client.get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")


# --- profile ------------------------------------------------------------------------


def test_profile_shows_only_public_fields(customer_client, customer):
    response = customer_client.get(reverse("api:profile"))

    assert response.status_code == 200
    assert set(response.json()["data"]) == USER_FIELDS
    assert response.json()["data"]["email"] == customer.email
    assert "no-store" in response["Cache-Control"]


def test_profile_patch_changes_own_names(customer_client, customer):
    response = customer_client.patch(reverse("api:profile"), {"first_name": "Grace", "email": "G@Example.com"})

    assert response.status_code == 200
    assert response.json()["message"] == "Profile updated"
    assert response.json()["data"]["email"] == "g@example.com"
    customer.refresh_from_db()
    assert (customer.first_name, customer.email) == ("Grace", "g@example.com")


def test_profile_ignores_privileged_fields_and_password(anon_client, customer_client, customer):
    response = customer_client.patch(
        reverse("api:profile"),
        {
            "role": "admin",
            "is_premium": True,
            "is_staff": True,
            "is_active": False,
            "password": "hacked-123x",
        },
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.role, customer.is_premium, customer.is_staff, customer.is_active) == (
        "customer",
        False,
        False,
        True,
    )
    assert login(anon_client, customer.email).status_code == 200


@pytest.mark.parametrize("field", ["email", "username"])
def test_profile_duplicate_is_409(customer_client, customer, field):
    other = make_user()

    response = customer_client.patch(reverse("api:profile"), {field: getattr(other, field).upper()})

    assert field in assert_error(response, 409, "CONFLICT")["error"]["details"]
    customer.refresh_from_db()
    assert getattr(customer, field) != getattr(other, field)


def test_profile_put_needs_every_field(customer_client):
    response = customer_client.put(reverse("api:profile"), {"first_name": "Only"})

    details = assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert {"username", "email"} <= set(details)


def test_profile_needs_authentication(anon_client):
    assert_error(anon_client.patch(reverse("api:profile"), {"first_name": "x"}), 401, "NOT_AUTHENTICATED")


# --- password change --------------------------------------------------------------------


def change_password(client, old, new):
    return client.post(reverse("api:password-change"), {"old_password": old, "new_password": new}, format="json")


def test_password_change_ends_other_sessions_and_keeps_this_one(anon_client, customer):
    other_session = services.token_pair(customer)
    this_session = services.token_pair(customer)

    response = change_password(bearer(this_session["access"]), TEST_PASSWORD, STRONG)

    assert response.status_code == 200
    fresh = response.json()["data"]
    assert set(fresh) == {"access", "refresh"}
    assert bearer(fresh["access"]).get(reverse("api:profile")).status_code == 200
    assert_error(refresh(anon_client, other_session["refresh"]), 401, "AUTHENTICATION_FAILED")
    assert_error(bearer(other_session["access"]).get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")
    assert login(anon_client, customer.email, STRONG).status_code == 200
    assert login(anon_client, customer.email, TEST_PASSWORD).status_code == 401


def test_password_change_with_a_wrong_old_password_is_400(anon_client, customer_client, customer):
    response = change_password(customer_client, "not-it", STRONG)

    assert "old_password" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert login(anon_client, customer.email).status_code == 200


def test_password_change_to_a_weak_password_is_400(anon_client, customer_client, customer):
    response = change_password(customer_client, TEST_PASSWORD, "12345678")

    assert "new_password" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert login(anon_client, customer.email).status_code == 200


# --- brute-force guard ------------------------------------------------------------------


def test_login_is_throttled_per_ip_and_xff_does_not_reset_it(anon_client, settings, still_throttle_clock):
    make_user(email="target@example.com")
    statuses = []
    for i in range(11):
        anon_client.credentials(HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
        statuses.append(login(anon_client, "target@example.com", "wrong-guess").status_code)

    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    response = login(anon_client, "target@example.com", "wrong-guess")
    assert_error(response, 429, "THROTTLED")
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("endpoint", ["register", "refresh", "password-change"])
def test_other_auth_endpoints_share_the_auth_limit(customer_client, endpoint, still_throttle_clock):
    for _ in range(10):
        customer_client.post(reverse(f"api:{endpoint}"), {}, format="json")

    response = customer_client.post(reverse(f"api:{endpoint}"), {}, format="json")

    assert_error(response, 429, "THROTTLED")
