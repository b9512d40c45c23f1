"""gunicorn settings: `gunicorn -c gunicorn.conf.py ecommerce_backend.wsgi` (values from the environment)."""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Below the proxy's timeout and above the database's statement timeout.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# gunicorn's longest request line: a search with several long non-ASCII parameters is still
# answered by the API (as JSON), not refused by gunicorn with an HTML 414.
limit_request_line = 8190
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"


def post_worker_init(worker):
    """The app's modules, settings and prebuilt querysets live as long as the worker: moved out of
    the garbage collector's sight, so a full collection during a request walks only what requests
    made, not the whole of Django (a pause that otherwise shows in the slowest responses)."""
    gc.freeze()
