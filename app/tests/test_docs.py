"""The API docs are served: Swagger UI, ReDoc and the schema, listing every endpoint group."""

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
