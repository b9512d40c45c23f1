# syntax=docker/dockerfile:1
# The catalog API as a container image: wheels built in one stage, a slim non-root runtime in the
# other. Build: `docker build -t catalog-api .`; the whole stack: `docker compose up` (README "Deploy").
# Runtime configuration comes from the environment (.env.example lists every variable); the image
# holds no secret. DATABASE_URL should point at PostgreSQL: the image's /app is read-only to the
# app user, so the default SQLite file cannot be written there.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: wheels of every pinned runtime dependency ------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# Every pin ships a manylinux wheel today; the compiler is here (and only here) for the day one
# does not, so the runtime stage never needs one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir -r requirements.txt -w /wheels

# --- runtime: the wheels, the code, collected static files, no compiler -------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=ecommerce_backend.settings \
    MEDIA_ROOT=/app/media \
    WHITENOISE_USE_FINDERS=false

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app

# Only the wheels from the build stage, offline: nothing is compiled or fetched here.
COPY requirements.txt .
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels -r requirements.txt

# The code belongs to root and is read-only to the app; .dockerignore keeps out .env, .venv,
# databases, media and caches.
COPY . .

# Static files (admin, Swagger UI, ReDoc) into STATIC_ROOT=/app/staticfiles, served by WhiteNoise.
# Settings refuse DEBUG=false with the development key, so this one command gets a throwaway key
# and database; neither is kept in the image. collectstatic writes files with
# FILE_UPLOAD_PERMISSIONS (0640, root's here): chmod makes them readable to the app user.
RUN DEBUG=false \
    SECRET_KEY=build-time-only-collectstatic-key-not-used-at-runtime-0123456789 \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    REDIS_URL= \
    CELERY_BROKER_URL= \
    python manage.py collectstatic --noinput -v0 \
    && chmod -R a+rX /app/staticfiles \
    && rm -f /tmp/build.sqlite3 \
    && python -m compileall -q /app \
    && mkdir -p /app/media \
    && chown app:app /app/media

# /app/media (MEDIA_ROOT) is the one place the app writes: uploads and their renditions. Mount a
# volume there (docker-compose.yml shares one between web and worker); a new named volume takes
# this folder's owner, uid 10001.
USER app
EXPOSE 8000

# /api/v1/health/ checks the database and the cache. The request carries Host = the first entry
# of ALLOWED_HOSTS (a leading "." or "*" stripped; "localhost" when unset), so Django accepts it
# whatever the deployment allows. Redirects are not followed: the check speaks plain HTTP to
# gunicorn, so with SECURE_SSL_REDIRECT=true the answer is a 301 and counts as unhealthy (set it
# false and let the TLS proxy redirect). http.client is urllib's own HTTP layer (no curl here).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import http.client as c, os; host = (os.environ.get('ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('*.') or 'localhost'; port = os.environ.get('GUNICORN_BIND', '0.0.0.0:8000').rsplit(':', 1)[-1]; conn = c.HTTPConnection('127.0.0.1', int(port), timeout=4); conn.request('GET', '/api/v1/health/', headers={'Host': host}); raise SystemExit(0 if conn.getresponse().status == 200 else 1)"]

# gunicorn.conf.py: GUNICORN_BIND (default 0.0.0.0:8000), WEB_CONCURRENCY workers, timeouts,
# access log to stdout.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "ecommerce_backend.wsgi"]
