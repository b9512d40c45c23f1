"""`GET /api/v1/health/`: 200 when the database and cache answer, 503 naming what failed."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from django.conf import settings
from django.urls import reverse

from app.tests.helpers import assert_error

pytestmark = pytest.mark.django_db

# Nothing listens on port 1: connections are refused at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
UNREACHABLE_POSTGRES = "postgres://postgres@127.0.0.1:1/ecommerce"


def test_health_reports_ok(anon_client):
    response = anon_client.get(reverse("api:health"))

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {"database": "ok", "cache": "ok"},
        "message": "Healthy",
    }


def test_health_names_the_cache_when_it_is_down(anon_client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }

    response = anon_client.get(reverse("api:health"))

    body = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert set(body["error"]["details"]) == {"cache"}
    assert response["Retry-After"]


def _run_with_database_gone(script: str) -> dict:
    """Run `script` in a fresh process whose DATABASE_URL points at nothing; return its JSON output."""
    env = {**os.environ, "DATABASE_URL": UNREACHABLE_POSTGRES, "REDIS_URL": ""}
    code = textwrap.dedent(
        """
        import json, django
        django.setup()
        from django.test import Client
        from django.test.utils import setup_test_environment
        setup_test_environment()
        client = Client(raise_request_exception=False)
        """
    ) + textwrap.dedent(script)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_database_gone_gives_503_everywhere_without_leaking():
    out = _run_with_database_gone(
        """
        from django.test import override_settings
        from rest_framework_simplejwt.tokens import AccessToken
        token = AccessToken()
        token["user_id"] = "5b1c2d3e-0000-4000-8000-000000000000"
        out = {}
        with override_settings(ROOT_URLCONF="app.tests.urls"):
            for name, url, headers in [
                ("health", "/api/v1/health/", {}),
                ("token_lookup", "/api/v1/_probe/private/", {"HTTP_AUTHORIZATION": f"Bearer {token}"}),
                ("admin_session", "/admin/", {"HTTP_COOKIE": "sessionid=" + "a" * 32}),
            ]:
                r = client.get(url, **headers)
                body = r.content.decode()
                out[name] = {"status": r.status_code, "body": body, "retry": r.get("Retry-After")}
        print(json.dumps(out))
        """
    )

    health = json.loads(out["health"]["body"])
    assert out["health"]["status"] == 503
    assert health["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "database" in health["error"]["details"]  # (the database cache goes with it)
    # The JWT user lookup inside DRF, and the admin's session lookup outside it: 503 as well.
    for name in ("token_lookup", "admin_session"):
        assert out[name]["status"] == 503, out[name]
        assert json.loads(out[name]["body"])["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert int(out[name]["retry"]) > 0
    for result in out.values():
        assert "Traceback" not in result["body"]
        assert "127.0.0.1" not in result["body"]


@pytest.mark.urls("app.tests.urls")
def test_a_query_past_the_statement_timeout_is_a_503_and_the_next_request_is_fine(anon_client, settings):
    """PostgreSQL cancels a query running past DB_STATEMENT_TIMEOUT_MS; the client gets a 503."""
    from django.db import connection

    if connection.vendor != "postgresql":  # SQLite has no statement timeout to set
        assert "options" not in settings.DATABASES["default"].get("OPTIONS", {})
        return
    assert "statement_timeout=5000" in settings.DATABASES["default"]["OPTIONS"]["options"].split()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 200")  # undone with the test's transaction

    slow = anon_client.get("/api/v1/_probe/sleep/")
    after = anon_client.get(reverse("api:health"))

    assert_error(slow, 503, "SERVICE_UNAVAILABLE")
    assert int(slow["Retry-After"]) > 0
    assert after.status_code == 200
