"""Black-box cases of the security plan (shared/security-plan.md) that no other module shows.

docs/security.md maps every case (1-56, R1-R12, section 4) to the test that shows it, here or
elsewhere. Each test names its case(s) in a comment.
"""

import base64
import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import zlib
from datetime import timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone
from packaging.version import Version
from PIL import Image
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from app import services, tasks
from app.models import Category, Product, ProductImage, User
from app.tests.factories import TEST_PASSWORD, make_category, make_product, make_user
from app.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db

STRONG = "pl4id-Unicorn-rides"
RANDOM_UUID = "5b1c2d3e-0000-4000-8000-000000000000"


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------


def image_bytes(fmt="JPEG", size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


def upload(name="photo.jpg", content=None, content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes() if content is None else content, content_type=content_type)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims width x height (a pixel flood)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def media_files() -> list[str]:
    root = Path(django_settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def snapshot():
    """Everything a request could change, to compare before and after."""
    return (
        sorted(
            User.objects.values_list(
                "id", "username", "email", "first_name", "last_name", "role", "is_premium", "is_active", "is_staff"
            )
        ),
        sorted(Category.objects.values_list("id", "name", "description", "parent_id")),
        sorted(
            Product.objects.values_list("id", "name", "price", "stock", "seller_id", "is_featured", "is_active", "sku")
        ),
        sorted(ProductImage.objects.values_list("id", "product_id", "image")),
        media_files(),
    )


def low_rate_limits(settings, **rest_framework):
    """Own low limits and an in-memory counter store, as test_rate_limits.py does."""
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "security-plan-tests"},
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/hour", "user": "4/hour", "premium": "6/hour", "auth": "10/minute"},
        **rest_framework,
    }
    caches["ratelimit"].clear()


@pytest.fixture
def world(db):
    """The plan's actors and objects: cust, cust2, prem, selA, selB, admin; P_A and P_B with one image each."""
    users = SimpleNamespace(
        cust=make_user(role=User.Role.CUSTOMER),
        cust2=make_user(role=User.Role.CUSTOMER, first_name="Untouched"),
        prem=make_user(role=User.Role.CUSTOMER, is_premium=True),
        selA=make_user(role=User.Role.SELLER),
        selB=make_user(role=User.Role.SELLER),
        admin=User.objects.create_superuser(email="root@example.com", username="root", password="x-Admin-pass-9"),
    )
    gadgets = make_category(name="Gadgets")
    empty = make_category(name="Empty")
    p_a = make_product(seller=users.selA, category=gadgets, name="Phone A", price=Decimal("10.00"), stock=3)
    p_b = make_product(seller=users.selB, category=gadgets, name="Phone B", price=Decimal("20.00"), stock=3)
    images = {}
    for key, product in (("A", p_a), ("B", p_b)):
        image = ProductImage(product=product, alt_text=key)
        image.image.save("x.jpg", ContentFile(image_bytes()), save=True)
        images[key] = image
    return SimpleNamespace(
        users=users, gadgets=gadgets, empty=empty, p_a=p_a, p_b=p_b, img_a=images["A"], img_b=images["B"]
    )


def actor_client(world, actor: str) -> APIClient:
    return APIClient() if actor == "anon" else client_for(getattr(world.users, actor))


# ---------------------------------------------------------------------------
# Authentication and tokens (cases 1, 2, 4, 7, 8, 14)
# ---------------------------------------------------------------------------


PRIVILEGED = {"is_staff": True, "is_superuser": True, "is_premium": True}


def test_register_with_role_admin_and_every_privilege_flag_is_400_and_creates_nothing(anon_client):
    # Case 1.
    body = {"email": "new@example.com", "username": "newbie", "password": STRONG, "role": "admin", **PRIVILEGED}

    response = anon_client.post(reverse("api:register"), body, format="json")

    assert "role" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert not User.objects.exists()


def test_register_as_seller_with_privilege_flags_gives_a_plain_seller(anon_client):
    # Case 1: the flags are ignored; the profile the new tokens see shows no privilege.
    body = {"email": "new@example.com", "username": "newbie", "password": STRONG, "role": "seller", **PRIVILEGED}

    response = anon_client.post(reverse("api:register"), body, format="json")

    assert response.status_code == 201
    profile = client_for(None)
    profile.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['data']['tokens']['access']}")
    data = profile.get(reverse("api:profile")).json()["data"]
    assert (data["role"], data["is_premium"]) == ("seller", False)
    assert not {"is_staff", "is_superuser"} & set(data)
    user = User.objects.get(email="new@example.com")
    assert (user.role, user.is_staff, user.is_superuser, user.is_premium) == ("seller", False, False, False)


def test_register_with_the_username_as_password_is_400(anon_client):
    # Case 2 (password, 12345678 and others: test_auth.py::test_register_weak_password_is_400).
    body = {"email": "new@example.com", "username": "lighthouse42", "password": "lighthouse42"}

    response = anon_client.post(reverse("api:register"), body, format="json")

    assert "password" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert not User.objects.exists()


class CountingHasher(MD5PasswordHasher):
    """The suite's fast hasher, counting how often a password is hashed."""

    algorithm = "counting_md5"
    calls: list[str] = []

    def encode(self, password, salt):
        CountingHasher.calls.append(password)
        return super().encode(password, salt)


def test_login_hashes_the_password_for_an_unknown_email_as_for_a_known_one(anon_client, settings):
    # Case 4: the same status and message, and the same password-hashing work either way
    # (Django's ModelBackend hashes the password for an unknown user too). No timing is measured.
    settings.PASSWORD_HASHERS = ["app.tests.test_security_plan.CountingHasher"]
    make_user(email="known@example.com")
    answers, hashed = {}, {}
    for case, email in (("unknown", "nobody@example.com"), ("wrong_password", "known@example.com")):
        CountingHasher.calls.clear()
        response = anon_client.post(
            reverse("api:login"), {"email": email, "password": "not-the-password"}, format="json"
        )
        answers[case] = assert_error(response, 401, "AUTHENTICATION_FAILED")["error"]["message"]
        hashed[case] = list(CountingHasher.calls)

    assert answers["unknown"] == answers["wrong_password"]
    assert hashed["unknown"] == hashed["wrong_password"] == ["not-the-password"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_token_with_an_edited_user_id_is_401(customer):
    # Case 7: the payload changed, the signature kept (alg none and another key: test_auth.py).
    victim = make_user()
    header, payload, signature = str(AccessToken.for_user(customer)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_id"] = str(victim.pk)
    forged = ".".join([header, _b64url(json.dumps(claims).encode()), signature])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")

    response = client.get(reverse("api:profile"))

    assert_error(response, 401, "AUTHENTICATION_FAILED")
    assert victim.email not in response.content.decode()


def test_access_token_expired_just_past_the_leeway_is_401(customer, settings):
    # Case 8: LEEWAY is at most 30 s, and a token expired by more than that is refused.
    leeway = settings.SIMPLE_JWT.get("LEEWAY", 0)
    leeway = leeway.total_seconds() if isinstance(leeway, timedelta) else leeway
    assert leeway <= 30
    token = AccessToken.for_user(customer)
    token.set_exp(from_time=timezone.now() - timedelta(seconds=leeway + 1), lifetime=timedelta(0))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_error(client.get(reverse("api:profile")), 401, "AUTHENTICATION_FAILED")


def test_put_profile_with_a_password_changes_no_password(anon_client, customer_client, customer):
    # Case 14: only auth/password/change/ (with the old password) changes it.
    body = {
        "username": customer.username,
        "email": customer.email,
        "first_name": "Put",
        "last_name": "Only",
        "password": "hacked-Pass-123",
    }

    response = customer_client.put(reverse("api:profile"), body, format="json")

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.first_name == "Put"
    assert customer.check_password(TEST_PASSWORD)
    login = {"email": customer.email, "password": TEST_PASSWORD}
    assert anon_client.post(reverse("api:login"), login, format="json").status_code == 200


# ---------------------------------------------------------------------------
# Object- and function-level authorization (cases 16-24, 26, 27)
# ---------------------------------------------------------------------------


def _url(world, target: str) -> str:
    return {
        "users": reverse("api:user-list"),
        "user:cust2": reverse("api:user-detail", args=[world.users.cust2.pk]),
        "user:selA": reverse("api:user-detail", args=[world.users.selA.pk]),
        "categories": reverse("api:category-list"),
        "category:empty": reverse("api:category-detail", args=[world.empty.pk]),
        "category:gadgets": reverse("api:category-detail", args=[world.gadgets.pk]),
        "products": reverse("api:product-list"),
        "product:A": reverse("api:product-detail", args=[world.p_a.pk]),
        "images:A": reverse("api:product-images", args=[world.p_a.pk]),
        "images:random": reverse("api:product-images", args=[RANDOM_UUID]),
        "image:A": reverse("api:product-delete-image", args=[world.p_a.pk, world.img_a.pk]),
        "image:B-through-A": reverse("api:product-delete-image", args=[world.p_a.pk, world.img_b.pk]),
    }[target]


def _body(target: str, method: str):
    """(body, format) a well-formed request of this kind sends."""
    if target.startswith("images"):
        return {"image": upload()}, "multipart"
    bodies = {
        ("user", "put"): {"username": "renamed", "email": "renamed@example.com", "first_name": "Changed"},
        ("user", "patch"): {"first_name": "Changed"},
        ("categories", "post"): {"name": "Fresh Category"},
        ("category", "patch"): {"description": "changed"},
        ("products", "post"): {"name": "New Thing", "price": "5.00", "category": "gadgets"},
        ("product", "put"): {"name": "Renamed", "price": "1.00", "stock": 1, "category": "gadgets"},
        ("product", "patch"): {"price": "1.00"},
    }
    return bodies.get((target.split(":")[0], method)), "json"


DENIED = {401: "NOT_AUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "CONFLICT"}

# (actor, method, target, expected status). Actors and objects as in the plan: selA owns P_A, selB owns P_B.
MATRIX = [
    # 16: users/ is for admins.
    *[(actor, "get", "users", status) for actor, status in
      [("anon", 401), ("cust", 403), ("selA", 403), ("prem", 403), ("admin", 200)]],
    # 17: another user's record.
    *[(actor, method, "user:cust2", status) for method in ("get", "put", "patch") for actor, status in
      [("anon", 401), ("cust", 403), ("selA", 403), ("prem", 403), ("cust2", 200), ("admin", 200)]],
    # 18: deactivation is for admins only, even of oneself.
    *[(actor, "delete", "user:cust2", status) for actor, status in
      [("anon", 401), ("cust", 403), ("selA", 403), ("cust2", 403), ("admin", 204)]],
    ("selA", "delete", "user:selA", 403),
    # 20: categories.
    *[(actor, "post", "categories", status) for actor, status in
      [("anon", 401), ("cust", 403), ("prem", 403), ("selA", 201), ("admin", 201)]],
    *[(actor, "patch", "category:empty", status) for actor, status in
      [("anon", 401), ("cust", 403), ("selA", 200), ("admin", 200)]],
    *[(actor, "delete", "category:empty", status) for actor, status in
      [("anon", 401), ("cust", 403), ("selA", 403), ("selB", 403), ("admin", 204)]],
    ("admin", "delete", "category:gadgets", 409),
    # 21: products.
    *[(actor, "post", "products", status) for actor, status in
      [("anon", 401), ("cust", 403), ("prem", 403), ("selA", 201), ("admin", 201)]],
    *[(actor, method, "product:A", status) for method, ok in (("put", 200), ("patch", 200), ("delete", 204))
      for actor, status in [("anon", 401), ("cust", 403), ("selB", 403), ("selA", ok), ("admin", ok)]],
    # 24: images.
    *[(actor, "post", "images:A", status) for actor, status in
      [("anon", 401), ("cust", 403), ("selB", 403), ("selA", 201), ("admin", 201)]],
    ("selA", "post", "images:random", 404),
    *[(actor, "delete", "image:A", status) for actor, status in
      [("anon", 401), ("cust", 403), ("selB", 403), ("selA", 204), ("admin", 204)]],
    ("selA", "delete", "image:B-through-A", 404),
]  # fmt: skip


@pytest.mark.parametrize(
    ("actor", "method", "target", "status"), MATRIX, ids=[f"{a}-{m}-{t}-{s}" for a, m, t, s in MATRIX]
)
def test_authorization_matrix(world, actor, method, target, status):
    # Cases 16-24: each (actor, endpoint, method) gets its status; a refusal changes nothing,
    # a permitted write changes something, a read changes nothing.
    body, fmt = _body(target, method)
    before = snapshot()

    response = getattr(actor_client(world, actor), method)(_url(world, target), body, format=fmt)

    if status in DENIED:
        assert_error(response, status, DENIED[status])
    else:
        assert response.status_code == status, response.content
    if status >= 400 or method == "get":
        assert snapshot() == before
    else:
        assert snapshot() != before


@pytest.mark.parametrize("method", ["get", "head", "put", "patch", "delete", "post", "options", "trace"])
def test_every_method_on_another_users_record_is_refused(world, method):
    # Case 17: documented or not, no method on another user's record answers 200.
    client = client_for(world.users.cust)
    before = snapshot()

    response = client.generic(method.upper(), _url(world, "user:cust2"), "{}", content_type="application/json")

    assert response.status_code in (403, 405), (method, response.status_code, response.content)
    assert world.users.cust2.email not in response.content.decode()
    assert snapshot() == before


def test_admin_replaces_another_sellers_product(world):
    # Case 21: admin PUT → 200 (PATCH and DELETE are in the matrix), the seller stays selA.
    body = {"name": "Admin Renamed", "price": "3.00", "stock": 2, "category": "gadgets"}

    response = client_for(world.users.admin).put(_url(world, "product:A"), body, format="json")

    assert response.status_code == 200
    world.p_a.refresh_from_db()
    assert (world.p_a.name, world.p_a.seller_id) == ("Admin Renamed", world.users.selA.pk)


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_USER_ID": "<selA-id>"},
        {"HTTP_X_FORWARDED_USER": "<selA-username>"},
        {"HTTP_REMOTE_USER": "<selA-username>", "HTTP_X_REMOTE_USER": "<selA-username>"},
        {"HTTP_X_AUTHENTICATED_USER": "<selA-email>", "HTTP_X_USER_ID": "<selA-id>"},
    ],
)
def test_identity_headers_from_the_client_are_not_trusted(world, headers):
    # Case 27.
    selA = world.users.selA
    values = {"<selA-id>": str(selA.pk), "<selA-username>": selA.username, "<selA-email>": selA.email}
    headers = {name: values[value] for name, value in headers.items()}

    response = APIClient().patch(_url(world, "product:A"), {"price": "0.50"}, format="json", **headers)

    assert_error(response, 401, "NOT_AUTHENTICATED")
    world.p_a.refresh_from_db()
    assert world.p_a.price == Decimal("10.00")


FORBIDDEN_USER_KEYS = {"password", "last_login", "is_superuser", "is_staff", "groups", "user_permissions"}


def test_responses_show_only_the_schema_fields_of_users_and_sellers(world, anon_client):
    # Case 26: every seller object is the schema's Seller ({id, username}); every user object has
    # only the schema's User fields (plus is_active for admins), never a password or staff flags.
    definitions = anon_client.get("/swagger.json").json()["definitions"]
    seller_keys = set(definitions["Seller"]["properties"])
    user_keys = set(definitions["User"]["properties"])
    assert seller_keys == {"id", "username"}
    assert not FORBIDDEN_USER_KEYS & user_keys

    Product.objects.filter(pk=world.p_a.pk).update(is_featured=True)
    product_lists = [
        anon_client.get(reverse("api:product-list")),
        anon_client.get(reverse("api:product-search"), {"q": "phone"}),
        anon_client.get(reverse("api:product-featured")),
        anon_client.get(reverse("api:category-products", args=["gadgets"])),
    ]
    sellers = [p["seller"] for r in product_lists for p in r.json()["results"]]
    sellers.append(anon_client.get(_url(world, "product:A")).json()["data"]["seller"])
    assert len(sellers) == 2 + 2 + 1 + 2 + 1
    assert all(set(s) == seller_keys for s in sellers), sellers

    cust, admin = client_for(world.users.cust), client_for(world.users.admin)
    login = anon_client.post(
        reverse("api:login"), {"email": world.users.cust2.email, "password": TEST_PASSWORD}, format="json"
    )
    register = anon_client.post(
        reverse("api:register"),
        {"email": "fresh@example.com", "username": "fresh", "password": STRONG},
        format="json",
    )
    own_users = [
        login.json()["data"]["user"],
        register.json()["data"]["user"],
        cust.get(reverse("api:profile")).json()["data"],
        cust.get(reverse("api:user-detail", args=[world.users.cust.pk])).json()["data"],
        cust.patch(reverse("api:profile"), {"first_name": "Z"}, format="json").json()["data"],
    ]
    admin_users = [
        *admin.get(reverse("api:user-list")).json()["results"],
        admin.get(reverse("api:user-detail", args=[world.users.cust.pk])).json()["data"],
    ]
    for user in own_users:
        assert set(user) == user_keys, user
    for user in admin_users:
        assert set(user) == user_keys | {"is_active"}, user


# ---------------------------------------------------------------------------
# Input, filters, content negotiation (cases 30, 31, 35)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("category", "1 OR 1=1"),
        ("category", "electronics' OR '1'='1"),
        ("seller", "x" * 50_000),
        ("seller", "' OR 1=1--"),
    ],
)
def test_injection_shaped_filter_values_are_400(world, anon_client, param, value):
    # Case 30 (unknown UUIDs and bad booleans: test_product_filters.py).
    response = anon_client.get(reverse("api:product-list"), {param: value})

    assert param in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


@pytest.mark.parametrize(
    "extra",
    [
        {"_connector": "OR", "_negated": "true"},
        {"seller__password__startswith": "p"},
        {"seller__is_staff": "true", "seller__email__icontains": "example"},
        {"id__in": "<P_B>"},
        {"is_active": "false", "price__lt": "0"},
    ],
)
def test_orm_lookups_in_the_query_string_are_ignored(world, anon_client, extra):
    # Case 31: the result equals the same query without the extra keys.
    Product.objects.filter(pk=world.p_a.pk).update(is_featured=True)
    make_product(seller=world.users.selB, category=world.gadgets, is_featured=True, is_active=False)
    extra = {k: str(world.p_b.pk) if v == "<P_B>" else v for k, v in extra.items()}
    url = reverse("api:product-list")

    plain = anon_client.get(url, {"is_featured": "true"})
    with_extra = anon_client.get(url, {"is_featured": "true", **extra})
    everything = anon_client.get(url, extra)

    assert plain.status_code == with_extra.status_code == 200
    assert with_extra.json() == plain.json()
    assert [p["id"] for p in plain.json()["results"]] == [str(world.p_a.pk)]
    assert everything.json() == anon_client.get(url).json()


@pytest.mark.parametrize(
    "accept", ["text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/xhtml+xml"]
)
def test_an_html_accept_header_never_gets_html(world, accept):
    # Case 35: JSON or 406, never the browsable API.
    for response in (
        APIClient().get(reverse("api:product-list"), HTTP_ACCEPT=accept),
        client_for(world.users.selA).post(
            reverse("api:product-list"),
            {"name": "<script>alert(1)</script>", "price": "5.00", "category": "gadgets"},
            format="json",
            HTTP_ACCEPT=accept,
        ),
    ):
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        if response.status_code == 406:
            assert_error(response, 406, "NOT_ACCEPTABLE")
        else:
            assert response.status_code in (200, 201)
        assert b"<html" not in response.content.lower()


# ---------------------------------------------------------------------------
# Protocol and content (cases 37-43)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"name": ',
        '{"name": "a", "price": NaN, "category": "gadgets"}',
        '{"name": "a", "price": Infinity, "category": "gadgets"}',
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["truncated", "nan", "infinity", "nested-100k"],
)
def test_malformed_json_to_products_is_a_parse_error(world, body):
    # Case 37, on the real endpoint (the envelope tests use a probe view).
    before = snapshot()

    response = client_for(world.users.selA).generic(
        "POST", reverse("api:product-list"), body, content_type="application/json"
    )

    assert_error(response, 400, "PARSE_ERROR")
    assert snapshot() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/yaml", "text/csv"])
def test_other_body_types_to_products_are_415(world, content_type):
    # Case 38.
    before = snapshot()

    response = client_for(world.users.selA).generic(
        "POST", reverse("api:product-list"), "name: a\nprice: 5\ncategory: gadgets\n", content_type=content_type
    )

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert snapshot() == before


def test_xml_accept_on_products_is_406_in_the_envelope(anon_client):
    # Case 38.
    assert_error(anon_client.get(reverse("api:product-list"), HTTP_ACCEPT="application/xml"), 406, "NOT_ACCEPTABLE")


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        # OPTIONS is refused on API views (405), so no Allow header offers it.
        ("TRACE", "/api/v1/products/", {"GET", "POST", "HEAD"}),
        ("TRACE", "/api/v1/auth/profile/", {"GET", "PUT", "PATCH", "HEAD"}),
        ("PUT", "/api/v1/products/featured/", {"GET", "HEAD"}),
        ("DELETE", "/api/v1/products/search/", {"GET", "HEAD"}),
        ("PATCH", "/api/v1/auth/login/", {"POST"}),
        ("GET", "/api/v1/auth/logout/", {"POST"}),
    ],
)
def test_unsupported_methods_are_405_with_an_accurate_allow_header(world, method, url, allowed):
    # Case 39 (as an authenticated seller: an anonymous caller of a protected route gets its 401 first).
    response = client_for(world.users.selA).generic(method, url, "{}", content_type="application/json")

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in response["Allow"].split(",")} == allowed


def test_three_megabyte_json_body_to_products_is_413_in_the_envelope(world):
    # Case 40, on the real endpoint.
    body = json.dumps({"name": "Big", "price": "5.00", "category": "gadgets", "description": "x" * (3 * 1024 * 1024)})
    before = snapshot()

    response = client_for(world.users.selA).generic(
        "POST", reverse("api:product-list"), body, content_type="application/json"
    )

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert snapshot() == before


def test_forwarded_host_never_reaches_pagination_links(world, anon_client):
    # Case 41 (a foreign Host: test_security_headers.py).
    response = anon_client.get(
        reverse("api:product-list"), {"page_size": 1}, HTTP_X_FORWARDED_HOST="evil.example", HTTP_FORWARDED="host=evil"
    )

    body = response.json()
    assert response.status_code == 200
    assert body["next"].startswith("http://testserver/api/v1/products/")
    assert b"evil" not in response.content


@pytest.mark.urls("app.tests.urls")
def test_a_500_carries_a_request_id_and_nothing_internal(anon_client):
    # Case 42 (logging of the trace: test_envelope.py).
    response = anon_client.get(reverse("probe:raise", args=["runtime"]))

    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", response.get("X-Request-ID", "")), dict(response.items())
    text = response.content.decode()
    for leak in ("Traceback", "SELECT", "app_user", ".py", str(django_settings.BASE_DIR), django_settings.SECRET_KEY):
        assert leak not in text
    assert body["error"]["details"] == {}


ALLOWED_ORIGIN = "http://localhost:3000"


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED_ORIGIN]


def preflight(client, origin, url="/api/v1/products/"):
    return client.options(
        url,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://localhost:3000.evil.example", "http://localhost:3001"]
)
def test_cors_refuses_origins_outside_the_allowlist(cors, anon_client, origin):
    # Case 43 (in Chromium: browser_tests/test_browser.py::test_cors_blocks_another_origin).
    for response in (preflight(anon_client, origin), anon_client.get("/api/v1/products/", HTTP_ORIGIN=origin)):
        assert "Access-Control-Allow-Origin" not in response
        assert "Access-Control-Allow-Credentials" not in response


def test_cors_echoes_the_allowed_origin_exactly(cors, anon_client):
    # Case 43.
    response = preflight(anon_client, ALLOWED_ORIGIN)
    simple = anon_client.get("/api/v1/products/", HTTP_ORIGIN=ALLOWED_ORIGIN)

    assert response.status_code == 200
    for answer in (response, simple):
        assert answer["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
        assert "origin" in answer["Vary"].lower()
        assert "Access-Control-Allow-Credentials" not in answer
    assert response["Access-Control-Max-Age"] == "86400"
    assert {m.strip() for m in response["Access-Control-Allow-Methods"].split(",")} >= {"GET", "POST", "PATCH"}


# ---------------------------------------------------------------------------
# Uploads (cases 44, 47, 49, 50, 51)
# ---------------------------------------------------------------------------


def test_png_html_polyglot_is_re_encoded_and_served_as_an_inert_png(world, anon_client):
    # Case 44, end to end: sent as an HTML page, stored and served as a plain PNG.
    polyglot = image_bytes("PNG") + b"<html><script>alert(document.cookie)</script></html>"
    files = {"image": upload("page.html", polyglot, "text/html")}

    response = client_for(world.users.selA).post(_url(world, "images:A"), files, format="multipart")

    assert response.status_code == 201, response.content
    url = response.json()["data"][0]["url"]
    assert url.endswith(".png")
    assert "page" not in url
    stored = Path(ProductImage.objects.get(pk=response.json()["data"][0]["id"]).image.path)
    assert b"<script>" not in stored.read_bytes()
    served = anon_client.get(url.replace("http://testserver", ""))
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert served["Content-Disposition"] == f'inline; filename="{stored.name}"'
    assert b"<script>" not in b"".join(served.streaming_content)


@pytest.mark.parametrize("size", [(20_000, 20_000), (8_000, 8_000)])
def test_pixel_flood_is_400_under_the_default_limit(world, settings, size):
    # Case 47: a tiny file whose header claims more than MAX_IMAGE_PIXELS (40 MP by default).
    assert size[0] * size[1] > settings.MAX_IMAGE_PIXELS == 40_000_000
    before = snapshot()

    response = client_for(world.users.selA).post(
        _url(world, "images:A"), {"image": upload("flood.png", png_claiming(*size), "image/png")}, format="multipart"
    )

    assert "images" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert snapshot() == before


def test_base64_transfer_encoded_part_padded_with_whitespace_is_checked_and_re_encoded(world):
    # Case 49 (CVE-2026-33033 is fixed in Django 5.2.19, which decodes such a part chunk by chunk in
    # bounded memory). The whitespace-padded base64 part is decoded, checked and re-encoded like any
    # upload: one image, a clean JPEG under a generated name, none of the padding stored. How fast
    # is not measured. The plan expects a 400 here; see docs/security.md.
    boundary = "plan49boundary"
    encoded = base64.b64encode(image_bytes()) + b" " * (3 * 1024 * 1024)
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + encoded
        + f"\r\n--{boundary}--\r\n".encode()
    )

    response = client_for(world.users.selA).generic(
        "POST", _url(world, "images:A"), body, content_type=f"multipart/form-data; boundary={boundary}"
    )

    assert response.status_code == 201, response.content
    [created] = response.json()["data"]
    stored = Path(ProductImage.objects.get(pk=created["id"]).image.path)
    assert stored.stat().st_size < 100_000
    with Image.open(stored) as image:
        assert (image.format, image.size) == ("JPEG", (64, 48))


@pytest.fixture
def outbound(monkeypatch):
    """Every address the process tries to connect to during the test."""
    seen = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        seen.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_an_image_url_is_never_fetched(world, outbound, fmt):
    # Case 51: the endpoint takes files only; no outbound connection is made.
    body = {"image_url": "http://169.254.169.254/latest/meta-data/", "url": "http://169.254.169.254/"}

    response = client_for(world.users.selA).post(_url(world, "images:A"), body, format=fmt)

    if fmt == "json":
        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    else:
        assert "images" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert ProductImage.objects.filter(product=world.p_a).count() == 1
    hosts = {a[0] for a in outbound if isinstance(a, tuple)}
    assert hosts <= {"127.0.0.1", "localhost", "::1"}, hosts


# ---------------------------------------------------------------------------
# Throttling behind a proxy (cases 52-55)
# ---------------------------------------------------------------------------

PROXY = "10.0.0.1"  # the load balancer: REMOTE_ADDR of every request that came through it


def through_proxy(client, real_ip, spoofed="203.0.113.9", **headers):
    """A request as the proxy forwards it: the client's own X-Forwarded-For, then the proxy's hop."""
    return client.get(
        reverse("api:product-list"),
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{spoofed}, {real_ip}",
        **headers,
    )


def test_behind_one_proxy_rotating_forwarded_headers_dodges_nothing(settings, anon_client):
    # Case 53 with the plan's NUM_PROXIES=1 (with the default 0: test_rate_limits.py).
    low_rate_limits(settings, NUM_PROXIES=1)

    statuses = [
        through_proxy(anon_client, "198.51.100.7", spoofed=f"203.0.113.{i}", HTTP_X_REAL_IP=f"192.0.2.{i}").status_code
        for i in range(4)
    ]

    assert statuses == [200, 200, 200, 429]


def test_behind_one_proxy_each_real_client_has_its_own_counter(settings, anon_client):
    # Case 54.
    low_rate_limits(settings, NUM_PROXIES=1)

    first = [through_proxy(anon_client, "198.51.100.7").status_code for _ in range(4)]
    second = through_proxy(anon_client, "198.51.100.8")

    assert first == [200, 200, 200, 429]
    assert second.status_code == 200
    assert second["X-RateLimit-Remaining"] == "2"


def test_with_no_trusted_proxy_configured_everyone_behind_it_shares_one_counter(settings, anon_client):
    # Case 54, the negative control: NUM_PROXIES=0 behind a proxy keys everyone on the proxy's address.
    low_rate_limits(settings, NUM_PROXIES=0)

    for _ in range(3):
        through_proxy(anon_client, "198.51.100.7")

    assert_error(through_proxy(anon_client, "198.51.100.8"), 429, "THROTTLED")


def test_rotating_forwarded_for_does_not_reset_a_users_limit(settings):
    # Case 55: a user is counted by account, whatever the forwarded headers say.
    low_rate_limits(settings, NUM_PROXIES=1)
    client = client_for(make_user())

    statuses = [through_proxy(client, f"198.51.100.{i}", spoofed=f"203.0.113.{i}").status_code for i in range(5)]

    assert statuses == [200, 200, 200, 200, 429]


def test_refused_requests_carry_the_rate_limit_headers(settings, world):
    # Case 52 and section 4: "X-RateLimit-Limit and X-RateLimit-Remaining on all responses"
    # (contract section 5: "Every API response carries" them), refusals included.
    low_rate_limits(settings)
    anon, bad_token, customer = APIClient(), APIClient(), client_for(world.users.cust)
    bad_token.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    responses = {
        "400 bad filter": anon.get(reverse("api:product-list"), {"min_price": "abc"}),
        "401 no credentials": anon.get(reverse("api:user-list")),
        "401 bad token": bad_token.get(reverse("api:profile")),
        "403 not an admin": customer.get(reverse("api:user-list")),
        "404 no such product": customer.get("/api/v1/products/not-a-uuid/"),
        "405 wrong method": customer.put(reverse("api:product-featured"), {}, format="json"),
    }

    missing = {name: r.status_code for name, r in responses.items() if "X-RateLimit-Remaining" not in r}
    assert missing == {}


def test_refused_anonymous_requests_count_against_the_anonymous_limit(settings, world):
    # Case 52: the anonymous limit is per IP, so requests refused with 401 spend it too; otherwise
    # guessing tokens or probing protected routes is never throttled.
    low_rate_limits(settings)
    anon, bad_token = APIClient(), APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    statuses = [
        anon.get(reverse("api:user-list")).status_code,
        bad_token.get(reverse("api:profile")).status_code,
        anon.patch(_url(world, "product:A"), {"price": "1.00"}, format="json").status_code,
    ]

    assert statuses == [401, 401, 401]
    assert_error(anon.get(reverse("api:product-list")), 429, "THROTTLED")


# ---------------------------------------------------------------------------
# Inventory (case 56)
# ---------------------------------------------------------------------------

V1_PATHS = {
    "/auth/register/", "/auth/login/", "/auth/refresh/", "/auth/logout/", "/auth/profile/", "/auth/password/change/",
    "/users/", "/users/{id}/", "/categories/", "/categories/{id}/", "/categories/{id}/products/", "/products/",
    "/products/{id}/", "/products/{id}/images/", "/products/{id}/images/{image_id}/", "/products/search/",
    "/products/featured/", "/health/",
}  # fmt: skip


def test_the_schema_lists_exactly_the_v1_api_and_nothing_else_answers(anon_client, admin_client_api):
    # Case 56 (the pages' CSP: test_security_headers.py and browser_tests/).
    schema = anon_client.get("/swagger.json").json()

    assert schema["basePath"] == "/api/v1"
    assert set(schema["paths"]) == V1_PATHS
    for url in ("/api/v0/products/", "/api/v2/products/", "/api/debug/", "/api/v1/admin/", "/api/admin/"):
        assert_error(admin_client_api.get(url), 404, "NOT_FOUND")


# ---------------------------------------------------------------------------
# Reliability (R1, R5, R6, R7)
# ---------------------------------------------------------------------------


def test_a_write_cut_off_by_the_database_leaves_nothing_half_done(world, monkeypatch):
    # R1: the connection drops between the two statements of a PATCH (price, then stock_delta).
    def connection_lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "_apply_stock_delta", connection_lost)

    response = client_for(world.users.selA).patch(
        _url(world, "product:A"), {"price": "1.00", "stock_delta": -1}, format="json"
    )

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response["Retry-After"]) > 0
    assert "closed the connection" not in response.content.decode()
    world.p_a.refresh_from_db()
    assert (world.p_a.price, world.p_a.stock) == (Decimal("10.00"), 3)


def test_an_upload_cut_off_leaves_no_row_no_file_and_queues_nothing(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    # R1 and R6: the database fails after the files and rows were written and the thumbnails queued.
    real_enqueue = services.thumbnails_enqueue

    def enqueue_then_fail(**kwargs):
        real_enqueue(**kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "thumbnails_enqueue", enqueue_then_fail)
    before = snapshot()

    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(world.users.selA).post(
            _url(world, "images:A"), {"images": [upload(), upload()]}, format="multipart"
        )

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert callbacks == []
    assert snapshot() == before


def test_private_answers_never_cross_users_through_the_cache(response_cache, world):
    # R5: A reads, then B reads the same URLs; B sees only B, and nothing private is stored.
    a, b = world.users.cust, world.users.cust2
    urls = [reverse("api:profile"), reverse("api:user-detail", args=[a.pk])]
    for url in urls:
        for _ in range(2):
            first = client_for(a).get(url)
        assert first.status_code == 200
        assert "X-Cache" not in first
        assert "no-store" in first["Cache-Control"]
        assert "Authorization" in first["Vary"]

    profile_b = client_for(b).get(urls[0])
    detail_b = client_for(b).get(urls[1])

    assert profile_b.json()["data"]["email"] == b.email
    assert_error(detail_b, 403, "PERMISSION_DENIED")
    for response in (profile_b, detail_b):
        assert a.email not in response.content.decode()
        assert "X-Cache" not in response


def test_a_failed_thumbnail_leaves_the_product_served(world, anon_client):
    # R7: a corrupt stored image ends as "failed" and the API keeps serving the product.
    Path(world.img_a.image.path).write_bytes(b"\x89PNG\r\n\x1a\n corrupt")

    result = tasks.make_thumbnails.apply(args=[str(world.img_a.pk)])

    assert result.successful()
    world.img_a.refresh_from_db()
    assert world.img_a.thumbnail_status == "failed"
    response = anon_client.get(_url(world, "product:A"))
    assert response.status_code == 200
    [image] = response.json()["data"]["images"]
    assert image["thumbnail_url"] is None


def test_tasks_are_acknowledged_late_and_requeued_if_the_worker_dies():
    # R7: what makes redelivery possible (a real worker: worker_tests/).
    from ecommerce_backend.celery import app as celery_app

    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert celery_app.conf.worker_prefetch_multiplier == 1


# ---------------------------------------------------------------------------
# Section 4: the hardened deployment
# ---------------------------------------------------------------------------


def test_deploy_check_passes_under_production_settings(tmp_path):
    # Section 4: `manage.py check --deploy --fail-level WARNING` (also run by .ci/run).
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecommerce_backend.settings",
        "DEBUG": "false",
        "SECRET_KEY": "k" + os.urandom(40).hex(),
        "ALLOWED_HOSTS": "api.example.com",
        "SECURE_SSL_REDIRECT": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_security_settings_are_on(settings):
    # Section 4 (the test run has DEBUG=false, as production).
    assert settings.DEBUG is False
    assert len(settings.SECRET_KEY) >= 50
    assert settings.SECURE_HSTS_SECONDS >= 31_536_000
    assert settings.SECURE_HSTS_INCLUDE_SUBDOMAINS is True
    assert settings.SECURE_HSTS_PRELOAD is True
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert settings.SECURE_CONTENT_TYPE_NOSNIFF is True
    assert settings.SECURE_REFERRER_POLICY == "same-origin"
    assert settings.SECURE_CROSS_ORIGIN_OPENER_POLICY == "same-origin"
    assert settings.X_FRAME_OPTIONS == "DENY"
    assert getattr(settings, "USE_X_FORWARDED_HOST", False) is False


def test_request_limits_and_database_settings(settings):
    # Section 4: body, field, file limits; persistent, health-checked connections.
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == 2_621_440
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS == 1000
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 10
    assert settings.FILE_UPLOAD_PERMISSIONS == 0o640
    assert (settings.MAX_UPLOAD_MB, settings.MAX_IMAGE_PIXELS, settings.MAX_IMAGES_PER_PRODUCT) == (5, 40_000_000, 10)
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True
    if database["ENGINE"].endswith("postgresql"):
        assert "statement_timeout" in database["OPTIONS"]["options"]


def test_rest_framework_settings(settings):
    # Section 4: JWT only, closed by default, JSON only, strict JSON, the contract's rates and page cap.
    from app.utils import EnvelopePagination

    rest = settings.REST_FRAMEWORK
    assert rest["DEFAULT_AUTHENTICATION_CLASSES"] == ["app.authentication.JWTAuthentication"]
    assert rest["DEFAULT_PERMISSION_CLASSES"] == ["rest_framework.permissions.IsAuthenticated"]
    assert rest["DEFAULT_RENDERER_CLASSES"] == ["app.utils.EnvelopeRenderer"]
    assert isinstance(rest["NUM_PROXIES"], int)
    assert rest["STRICT_JSON"] is True
    assert rest["EXCEPTION_HANDLER"] == "app.utils.envelope_exception_handler"
    assert rest["DEFAULT_THROTTLE_RATES"] == {
        "anon": "100/hour",
        "user": "1000/hour",
        "premium": "5000/hour",
        "auth": "10/minute",
    }
    assert EnvelopePagination.max_page_size == 100


def test_jwt_settings(settings):
    # Section 4: lifetimes, single-use refresh tokens, revocation on password change and deactivation.
    from django.db import connection

    jwt = settings.SIMPLE_JWT
    assert jwt["ACCESS_TOKEN_LIFETIME"] == timedelta(minutes=15)
    assert jwt["REFRESH_TOKEN_LIFETIME"] == timedelta(days=7)
    assert jwt["ROTATE_REFRESH_TOKENS"] is True
    assert jwt["BLACKLIST_AFTER_ROTATION"] is True
    assert "rest_framework_simplejwt.token_blacklist" in settings.INSTALLED_APPS
    assert {"token_blacklist_outstandingtoken", "token_blacklist_blacklistedtoken"} <= set(
        connection.introspection.table_names()
    )
    assert jwt["ALGORITHM"] in {"HS256", "RS256"}
    assert jwt["LEEWAY"] <= 30
    assert jwt["CHECK_REVOKE_TOKEN"] is True
    assert jwt["CHECK_USER_IS_ACTIVE"] is True
    assert jwt["UPDATE_LAST_LOGIN"] is False


def test_jwt_has_its_own_signing_key_and_names_audience_and_issuer(settings):
    # Section 4: "ALGORITHM HS256 with its own key (or RS256), AUDIENCE and ISSUER set".
    jwt = settings.SIMPLE_JWT
    if jwt["ALGORITHM"].startswith("HS"):
        assert jwt["SIGNING_KEY"] != settings.SECRET_KEY
    assert jwt.get("AUDIENCE")
    assert jwt.get("ISSUER")


def test_secret_key_fallbacks_come_from_the_environment(tmp_path):
    # Section 4: "SECRET_KEY ... with SECRET_KEY_FALLBACKS for rotation".
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.SECRET_KEY_FALLBACKS))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecommerce_backend.settings",
        "DEBUG": "false",
        "SECRET_KEY": "new-" + "n" * 60,
        "SECRET_KEY_FALLBACKS": "old-" + "o" * 60,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fallbacks.sqlite3'}",
    }

    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["old-" + "o" * 60]


def test_cors_and_docs_settings(settings):
    # Section 4.
    from ecommerce_backend.urls import schema_view

    assert getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False) is False
    assert settings.CORS_ALLOW_CREDENTIALS is False
    assert settings.CORS_URLS_REGEX == r"^/api/.*$"
    assert settings.CORS_PREFLIGHT_MAX_AGE == 86400
    assert "*" not in settings.CORS_ALLOWED_ORIGINS
    middleware = settings.MIDDLEWARE
    cors = middleware.index("corsheaders.middleware.CorsMiddleware")
    assert cors < middleware.index("django.middleware.common.CommonMiddleware")
    assert cors <= 5  # near the top
    assert settings.SWAGGER_SETTINGS["VALIDATOR_URL"] is None
    assert settings.SWAGGER_SETTINGS["USE_SESSION_AUTH"] is False
    assert schema_view.authentication_classes == []


def test_api_answers_set_no_cookie_and_admin_cookies_are_locked_down(world, client):
    # Section 4: no Set-Cookie on the API; the admin's session cookie is Secure, HttpOnly, SameSite=Lax.
    for response in (
        APIClient().get(reverse("api:product-list")),
        client_for(world.users.cust).get(reverse("api:profile")),
        APIClient().post(
            reverse("api:login"), {"email": world.users.cust.email, "password": TEST_PASSWORD}, format="json"
        ),
    ):
        assert not response.cookies

    login = client.post(
        reverse("admin:login"), {"username": "root@example.com", "password": "x-Admin-pass-9"}, secure=True
    )

    assert login.status_code == 302
    session = login.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_dependencies_are_at_least_the_plans_versions():
    # Section 4 ("Versions"); pip-audit itself cannot reach its database from this network.
    minimum = {
        "Django": "5.2.19",
        "djangorestframework": "3.17.2",
        "djangorestframework-simplejwt": "5.5.1",
        "drf-yasg": "1.21.10",
        "django-filter": "2.4",
        "gunicorn": "23.0",
    }
    too_old = {name: version(name) for name, floor in minimum.items() if Version(version(name)) < Version(floor)}

    assert too_old == {}
