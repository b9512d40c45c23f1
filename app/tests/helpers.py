"""Assertions, clients and small helpers the test modules share."""

from datetime import timedelta

from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from app.models import Product, User


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def assert_error(response, status: int, code: str):
    """The response is the contract's error envelope with this status and code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body


def ago(days: int):
    return timezone.now() - timedelta(days=days)


def ids(response) -> list[str]:
    """The ids of a list response's results, in order (the response must be a 200)."""
    assert response.status_code == 200, response.content
    return [p["id"] for p in response.json()["results"]]


def pks(*products) -> list[str]:
    return [str(p.pk) for p in products]


def images_query() -> int:
    """The query a product page spends on its images: none on PostgreSQL, where each row
    carries them (ProductQuerySet.for_listing), one elsewhere."""
    return 0 if connection.vendor == "postgresql" else 1


def product_compiles(monkeypatch) -> list:
    """Spy on Django's SQL compiler: the product queries compiled from now on (their SQL)."""
    compiled, real_as_sql = [], SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):
        sql, params = real_as_sql(self, *args, **kwargs)
        if self.query.model is Product:
            compiled.append(sql)
        return sql, params

    monkeypatch.setattr(SQLCompiler, "as_sql", as_sql)
    return compiled
