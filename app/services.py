"""Operations that touch several rows or outside systems; views call these, never the reverse."""

import logging
import uuid

from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)


def check_health() -> dict[str, str]:
    """Probe the database and the cache; each is "ok" or "failing", never raising."""
    report = {"database": "ok", "cache": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("Health check: database unreachable", exc_info=True)
        report["database"] = "failing"
    try:
        # A round trip: a cache that swallows errors (django-redis IGNORE_EXCEPTIONS) reads None.
        probe = uuid.uuid4().hex
        cache.set("health-probe", probe, timeout=10)
        if cache.get("health-probe") != probe:
            raise ConnectionError("cache did not return the value it was given")
    except Exception:
        logger.warning("Health check: cache unreachable", exc_info=True)
        report["cache"] = "failing"
    return report
