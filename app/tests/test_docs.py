"""The API docs are served: Swagger UI, ReDoc and the schema, listing every endpoint group."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_schema_lists_every_endpoint(anon_client):
    response = anon_client.get("/swagger.json")

    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert {
        "/auth/register/",
        "/auth/login/",
        "/auth/refresh/",
        "/auth/logout/",
        "/auth/profile/",
        "/auth/password/change/",
        "/users/",
        "/users/{id}/",
        "/categories/",
        "/categories/{id}/",
        "/categories/{id}/products/",
        "/products/",
        "/products/{id}/",
        "/products/{id}/images/",
        "/products/{id}/images/{image_id}/",
        "/products/search/",
        "/products/featured/",
        "/health/",
    } <= paths


@pytest.mark.parametrize("url", ["/swagger/", "/redoc/", "/swagger.yaml"])
def test_docs_pages_load(anon_client, url):
    assert anon_client.get(url).status_code == 200


def _api_routes(patterns, prefix=""):
    """Every route under /api/v1/ as a schema path template: `products/(?P<pk>[^/.]+)/$` → `/products/{id}/`."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            yield from _api_routes(pattern.url_patterns, route)
            continue
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        route = route.replace("^", "").replace("$", "").replace("\\.", ".").replace("{pk}", "{id}")
        if "{format}" not in route:
            yield "/" + route


def test_no_api_route_is_missing_from_the_schema(anon_client):
    from app import urls

    documented = set(anon_client.get("/swagger.json").json()["paths"])
    routes = set(_api_routes(urls.urlpatterns))

    assert routes, "no routes found"
    assert routes - documented == set()
