"""Settings come from the environment and refuse an unsafe production configuration."""

import os
import subprocess
import sys

from django.conf import settings


def _start(**env) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process with exactly these overrides."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "ecommerce_backend.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_debug_off_with_the_development_key_refuses_to_start():
    result = _start(DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY is the development key" in result.stderr
    assert "started" not in result.stdout


def test_debug_on_with_the_development_key_starts():
    result = _start(DEBUG="true", SECRET_KEY="")

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_debug_off_with_a_real_key_starts():
    result = _start(DEBUG="false", SECRET_KEY="x" * 60)

    assert result.returncode == 0, result.stderr


def test_a_misspelt_boolean_is_refused_clearly():
    result = _start(DEBUG="maybe", SECRET_KEY="x" * 60)

    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_defaults_without_redis_use_the_shared_database_cache():
    assert settings.CACHES["default"]["BACKEND"] in {
        "django.core.cache.backends.db.DatabaseCache",
        "django_redis.cache.RedisCache",
    }
    if not os.environ.get("REDIS_URL"):
        assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024
