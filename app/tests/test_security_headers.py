"""Headers of the hardened deployment (security plan section 4) on API answers, docs and media."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from app.middleware import API_CSP, DOCS_CSP
from app.tests.factories import make_product
from app.tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def https(settings):
    settings.SECURE_SSL_REDIRECT = False
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


@pytest.mark.parametrize("url", ["/api/v1/products/", "/api/v1/health/", "/api/v1/nowhere/", "/api/v1/auth/profile/"])
def test_every_api_answer_carries_the_security_headers(anon_client, https, url):
    response = anon_client.get(url, secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == API_CSP
    assert response["Content-Type"].startswith("application/json")
    assert "Authorization" in response["Vary"]
    assert "X-Powered-By" not in response


def test_401_carries_the_bearer_challenge_and_405_the_allow_header(anon_client):
    assert anon_client.get(reverse("api:profile"))["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "GET" in anon_client.post(reverse("api:health"))["Allow"]


@pytest.mark.parametrize("url", ["/swagger/", "/redoc/"])
def test_docs_pages_have_their_csp(anon_client, url):
    response = anon_client.get(url)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == DOCS_CSP
    assert b"<script>" not in response.content  # no inline script the CSP would have to allow


@pytest.mark.parametrize("url", ["/api/v1/auth/profile/", "/api/v1/auth/login/"])
def test_auth_answers_are_never_stored(customer_client, url):
    response = customer_client.get(url) if url.endswith("profile/") else customer_client.post(url, {})

    assert "no-store" in response["Cache-Control"]


def test_plain_http_is_redirected_when_ssl_redirect_is_on(anon_client, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = anon_client.get("/api/v1/products/")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_foreign_host_is_refused_and_never_reflected(anon_client):
    response = anon_client.get("/api/v1/products/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert b"evil.example" not in response.content


def test_the_response_cache_never_answers_before_the_https_redirect(anon_client, settings, response_cache):
    assert anon_client.get("/api/v1/products/").status_code == 200
    assert anon_client.get("/api/v1/products/")["X-Cache"] == "hit"
    settings.SECURE_SSL_REDIRECT = True  # read when the middleware is made: a new client makes it

    response = APIClient().get("/api/v1/products/")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_a_foreign_host_is_refused_with_the_response_cache_on(anon_client, response_cache):
    assert anon_client.get("/api/v1/products/").status_code == 200

    response = anon_client.get("/api/v1/products/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert "X-Cache" not in response
    assert b"evil.example" not in response.content


def test_a_hit_carries_the_security_headers_of_a_miss(anon_client, response_cache):
    miss = anon_client.get("/api/v1/products/")
    hit = anon_client.get("/api/v1/products/")

    assert hit["X-Cache"] == "hit"
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Vary"):
        assert hit[header] == miss[header], header


def test_a_304_from_the_cache_keeps_the_security_headers(anon_client, response_cache, seller):
    product = make_product(seller=seller)
    url = reverse("api:product-detail", args=[product.pk])
    miss = anon_client.get(url)
    assert anon_client.get(url)["X-Cache"] == "hit"

    not_modified = anon_client.get(url, HTTP_IF_NONE_MATCH=miss["ETag"])

    assert not_modified.status_code == 304
    assert not_modified["ETag"] == miss["ETag"]
    for header in ("Content-Security-Policy", "X-Frame-Options", "Vary"):
        assert not_modified[header] == miss[header], header
    assert "Authorization" in not_modified["Vary"]


def test_a_429_from_the_cache_keeps_the_security_headers(anon_client, response_cache, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "2/hour"}}  # fmt: skip
    miss, hit, refused = (anon_client.get("/api/v1/products/") for _ in range(3))

    assert hit["X-Cache"] == "hit"
    body = assert_error(refused, 429, "THROTTLED")
    assert body["success"] is False
    assert refused["Retry-After"]
    for header in ("Content-Security-Policy", "X-Frame-Options", "Vary"):
        assert refused[header] == miss[header], header
    assert "ETag" not in refused


def test_options_is_refused_and_never_offered(anon_client, customer_client, customer):
    refused = customer_client.options(reverse("api:user-detail", args=[customer.pk]))
    wrong_method = anon_client.delete(reverse("api:product-list"))

    assert refused.status_code == 405
    assert refused.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    for response in (refused, wrong_method):
        methods = {m.strip() for m in response["Allow"].split(",")}
        assert "OPTIONS" not in methods
        assert "GET" in methods


def test_cors_preflight_still_works(anon_client):
    response = anon_client.options(
        reverse("api:product-list"),
        HTTP_ORIGIN="http://localhost:3000",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response["Access-Control-Max-Age"] == "86400"
