"""Watching the API in production: a request id on every request, response and log line; one JSON
log line per request; Prometheus metrics behind an IP allowlist or a token."""

import hmac
import logging
import re
import time
import uuid
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpResponseNotFound
from django_prometheus.exports import ExportToDjangoView

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
access_log = logging.getLogger("app.access")

VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every log record (`-` outside a request)."""

    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


class RequestLogMiddleware:
    """Takes `X-Request-ID` from the request (or makes one), returns it, and logs one line per request.

    The line has method, path (no query string: it may carry search terms), status, duration and
    the user id, never a header or a body, so no token or password reaches the logs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Not reset on the way out: Django logs a failed request's status after the middleware
        # chain returns, and that line must carry the id too. The next request sets its own.
        request_id_var.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        user = getattr(request, "user", None)
        fields = {
            "method": request.method,
            "path": _printable(request.path),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "user_id": str(user.pk) if user is not None and user.is_authenticated else None,
        }
        # The message reads well in plain logs; the JSON line also carries each field on its own.
        access_log.info("%(method)s %(path)s %(status)s %(duration_ms)sms", fields, extra=fields)
        return response


def _printable(text: str) -> str:
    """Control characters escaped, so a crafted URL cannot forge log lines (cf. CVE-2025-48432)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def metrics_view(request):
    """Prometheus metrics, for allowed addresses (METRICS_ALLOWED_IPS) or `Bearer METRICS_TOKEN`.

    Anyone else gets a plain 404, as if there were nothing here.
    """
    address = request.META.get("REMOTE_ADDR", "")
    token = settings.METRICS_TOKEN
    sent = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
    if address in settings.METRICS_ALLOWED_IPS or (token and hmac.compare_digest(sent, token)):
        return ExportToDjangoView(request)
    return HttpResponseNotFound()
