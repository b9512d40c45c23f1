"""Logs, request ids, metrics and error tracking: what operators see, and what they never see."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from app.observability import RequestIdFilter
from app.tests.factories import TEST_PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """Every log line, formatted as in production (JSON with the request id), during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    config = settings.LOGGING["formatters"]["json"]
    handler.setFormatter(import_string(config["()"])(**{k: v for k, v in config.items() if k != "()"}))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_a_request_id_is_made_and_returned(anon_client):
    response = anon_client.get(reverse("api:product-list"))

    assert len(response["X-Request-ID"]) == 32


def test_a_sensible_incoming_request_id_is_kept_and_a_bad_one_replaced(anon_client):
    kept = anon_client.get(reverse("api:product-list"), HTTP_X_REQUEST_ID="edge-42.a_b")
    replaced = anon_client.get(reverse("api:product-list"), HTTP_X_REQUEST_ID="x\nInjected: 1" + "y" * 70)

    assert kept["X-Request-ID"] == "edge-42.a_b"
    assert replaced["X-Request-ID"] != "x\nInjected: 1" + "y" * 70
    assert len(replaced["X-Request-ID"]) == 32


def test_one_json_line_per_request_with_the_request_id(customer_client, customer, log_lines):
    response = customer_client.get(reverse("api:profile"), {"secret": "in-the-query"})

    [line] = [entry for entry in log_lines() if entry["logger"] == "app.access"]
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/auth/profile/"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["user_id"] == str(customer.pk)
    assert line["request_id"] == response["X-Request-ID"]
    assert "in-the-query" not in json.dumps(line)


def test_a_login_leaves_no_password_or_token_in_the_logs(anon_client, log_lines):
    make_user(email="logme@example.com")

    response = anon_client.post(
        reverse("api:login"), {"email": "logme@example.com", "password": TEST_PASSWORD}, format="json"
    )
    failed = anon_client.post(reverse("api:login"), {"email": "logme@example.com", "password": "Wr0ng-guess"})

    tokens = response.json()["data"]["tokens"]
    text = json.dumps(log_lines())
    assert failed.status_code == 401
    assert TEST_PASSWORD not in text
    assert "Wr0ng-guess" not in text
    assert tokens["access"] not in text
    assert tokens["refresh"] not in text
    assert text.count('"logger": "app.access"') == 2


def test_a_crafted_path_cannot_forge_a_log_line(anon_client, log_lines):
    anon_client.get("/api/v1/nothing%0A2026-01-01 INFO app.access GET /admin/ 200/")

    [line] = [entry for entry in log_lines() if entry["logger"] == "app.access"]
    assert "\n" not in line["path"]
    assert "\n" not in line["message"]
    assert line["path"].startswith("/api/v1/nothing\\n2026")


def test_errors_are_logged_with_the_request_id(anon_client, log_lines, settings):
    settings.ROOT_URLCONF = "app.tests.urls"

    response = anon_client.get("/api/v1/_probe/raise/runtime/")

    errors = [entry for entry in log_lines() if entry["level"] == "ERROR"]
    assert response.status_code == 500
    assert errors
    assert all(entry["request_id"] == response["X-Request-ID"] for entry in errors)
    assert "exc_info" in errors[0]


def test_metrics_for_allowed_addresses(anon_client):
    anon_client.get(reverse("api:product-list"))

    response = anon_client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    body = response.content.decode()
    assert "django_http_requests_total_by_view_transport_method_total" in body
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in body
    assert "django_db_execute_total" in body


def test_metrics_are_hidden_from_everyone_else(anon_client):
    response = anon_client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 404
    assert b"django_http" not in response.content


def test_metrics_with_the_token_from_anywhere(anon_client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    good = anon_client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    bad = anon_client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer guess")

    assert good.status_code == 200
    assert bad.status_code == 404


@pytest.mark.parametrize(("dsn", "active"), [("", "False"), ("https://public@sentry.example.com/1", "True")])
def test_sentry_only_with_a_dsn(dsn, active):
    code = "import django, sentry_sdk; django.setup(); print(sentry_sdk.get_client().is_active())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "SENTRY_DSN": dsn},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == active
