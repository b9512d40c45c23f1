"""Every response, success or failure, comes back in the contract's envelope (section 1)."""

import json
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from django.urls import reverse
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from app.models import Category, User
from app.tests.factories import make_category
from app.tests.helpers import assert_error, client_for
from app.utils import EnvelopeRenderer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("app.tests.urls")]


def test_success_payload_is_wrapped(anon_client):
    response = anon_client.post(reverse("probe:echo"), {"name": "Phone", "price": "9.50"}, format="json")

    assert response.status_code == 201
    assert response.json() == {
        "success": True,
        "data": {"name": "Phone", "price": "9.50"},
        "message": "Object created",
    }


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("url", ["/api/v1/no-such-thing/", "/api/v2/products/", "/api/"])
def test_unknown_api_url_is_a_json_404(anon_client, method, url):
    response = getattr(anon_client, method)(url)

    assert_error(response, 404, "NOT_FOUND")


def test_method_not_allowed_names_allowed_methods(anon_client):
    response = anon_client.delete(reverse("api:health"))

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"]


def test_validation_error_lists_fields(anon_client):
    response = anon_client.post(reverse("probe:echo"), {"name": "x" * 30, "price": "0"}, format="json")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"name", "price"}
    assert all(isinstance(m, list) for m in body["error"]["details"].values())


def test_malformed_json_is_a_parse_error(anon_client):
    response = anon_client.generic("POST", reverse("probe:echo"), '{"name": ', content_type="application/json")

    assert_error(response, 400, "PARSE_ERROR")


def test_nan_is_refused_as_json(anon_client):
    response = anon_client.generic(
        "POST", reverse("probe:echo"), '{"name": "a", "price": NaN}', content_type="application/json"
    )

    assert_error(response, 400, "PARSE_ERROR")


def test_deeply_nested_json_is_a_parse_error_not_a_crash(anon_client):
    body = "[" * 100_000 + "]" * 100_000

    response = anon_client.generic("POST", reverse("probe:echo"), body, content_type="application/json")

    assert_error(response, 400, "PARSE_ERROR")


def test_unsupported_content_type_is_415(anon_client):
    response = anon_client.generic("POST", reverse("probe:echo"), "name=a", content_type="text/plain")

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_form_bodies_are_accepted(anon_client, content_type):
    fmt = "multipart" if content_type.startswith("multipart") else None
    if fmt:
        response = anon_client.post(reverse("probe:echo"), {"name": "a", "price": "1.00"}, format=fmt)
    else:
        response = anon_client.generic("POST", reverse("probe:echo"), "name=a&price=1.00", content_type=content_type)

    assert response.status_code == 201
    assert response.json()["data"] == {"name": "a", "price": "1.00"}


def test_unanswerable_accept_header_is_406(anon_client):
    response = anon_client.get(reverse("api:health"), HTTP_ACCEPT="application/xml")

    assert_error(response, 406, "NOT_ACCEPTABLE")


def test_oversized_json_body_is_413(anon_client):
    body = json.dumps({"name": "a", "price": "1.00", "padding": "x" * (1024 * 1024 + 10)})

    response = anon_client.generic("POST", reverse("probe:echo"), body, content_type="application/json")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_missing_credentials_is_401_with_bearer_challenge(anon_client):
    response = anon_client.get(reverse("probe:private"))

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_garbage_token_is_authentication_failed(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")

    response = anon_client.get(reverse("probe:private"))

    assert_error(response, 401, "AUTHENTICATION_FAILED")


def test_authenticated_but_not_allowed_is_403(customer):
    response = client_for(customer).get(reverse("probe:private"))

    assert_error(response, 403, "PERMISSION_DENIED")


def test_integrity_error_is_409_without_sql(anon_client):
    response = anon_client.get(reverse("probe:raise", args=["integrity"]))

    assert_error(response, 409, "CONFLICT")
    assert "secret_idx" not in response.content.decode()


def test_real_unique_violation_is_409_and_nothing_is_written(anon_client):
    make_category(name="Phones")

    response = anon_client.post(reverse("probe:categories"), {"name": "PHONES"}, format="json")

    assert_error(response, 409, "CONFLICT")
    assert Category.objects.filter(name__iexact="phones").count() == 1


def test_business_rule_is_422_with_details(anon_client):
    response = anon_client.get(reverse("probe:raise", args=["unprocessable"]))

    body = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    assert body["error"]["details"] == {"max_price": ["too low"]}


def test_throttled_is_429_with_retry_after(anon_client):
    response = anon_client.get(reverse("probe:raise", args=["throttled"]))

    assert_error(response, 429, "THROTTLED")
    assert response["Retry-After"] == "42"


def test_database_error_is_503_with_retry_after(anon_client):
    response = anon_client.get(reverse("probe:raise", args=["operational"]))

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response["Retry-After"]) > 0
    assert "10.0.0.5" not in response.content.decode()


def test_unhandled_exception_is_500_without_traceback_and_is_logged(anon_client, caplog):
    with caplog.at_level(logging.ERROR, logger="app.utils"):
        response = anon_client.get(reverse("probe:raise", args=["runtime"]))

    body = assert_error(response, 500, "INTERNAL_ERROR")
    text = response.content.decode()
    assert "Traceback" not in text
    assert "password" not in text
    assert body["error"]["details"] == {}
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], RuntimeError)]
    assert logged, "the 500 must be logged with its traceback"


def test_404_outside_drf_is_json_too(anon_client):
    response = anon_client.get("/definitely-not-here/")

    assert_error(response, 404, "NOT_FOUND")


def test_the_json_is_byte_for_byte_what_drfs_renderer_writes():
    """The envelope renderer writes with orjson; a client sees the bytes DRF's encoder would send."""
    data = {
        "success": True,
        "text": 'Ünïcödé "quoted" \\ back\nslash\t\x00\x1f\x7f \u2028 \u2029 😀 </script>',
        "numbers": [0, -1, 2**53, 2**63 - 1, True, False, None],
        "decimal": Decimal("19.90"),
        "uuid": UUID("12345678-1234-5678-1234-567812345678"),
        "when": [datetime(2026, 11, 27, 23, 47, 1, 32640, tzinfo=UTC), date(2026, 11, 27), timedelta(hours=1)],
        "lazy": gettext_lazy("Not found."),
        "error": ErrorDetail("This field is required.", code="required"),
        "nested": ReturnDict({"list": ReturnList([{"a": 1}], serializer=None), 7: "int key"}, serializer=None),
        "empty": [{}, [], ""],
    }

    assert EnvelopeRenderer().render(data) == JSONRenderer().render(data)
    huge = {"beyond 64 bits": 2**64, "negative": -(2**70)}  # orjson refuses these; DRF's encoder takes over
    assert EnvelopeRenderer().render(huge) == JSONRenderer().render(huge)


def test_pretty_printing_still_follows_the_accept_header(anon_client):
    response = anon_client.get(reverse("api:health"), HTTP_ACCEPT="application/json; indent=4")

    assert response.status_code == 200
    assert response.content.startswith(b'{\n    "success": true,\n')


def test_a_lone_surrogate_sent_in_json_is_answered_not_a_500(anon_client):
    """JSON may spell a lone surrogate (`\\ud800`); echoed in an error, it is sent back escaped."""
    body = '{"email": "a@example.com", "username": "ada", "password": "pl4id-Unicorn-rides", "role": "\\ud800"}'
    response = anon_client.post(reverse("api:register"), body, content_type="application/json")

    assert response.status_code == 400
    error = json.loads(response.content)["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "role" in error["details"]
    assert response.content.isascii()  # the surrogate went back escaped
    assert not User.objects.filter(username="ada").exists()
