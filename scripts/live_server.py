#!/usr/bin/env python
"""Run a command against a live API: a fresh database with demo data, served by gunicorn.

    .venv/bin/python scripts/live_server.py [--port 8765] -- COMMAND [ARGS...]

Starts gunicorn on 127.0.0.1:PORT with production-like settings (DEBUG off) on a throwaway
SQLite database and media folder (and, with `--worker BROKER_URL`, a Celery worker on that
broker), seeds demo data, makes an admin, and runs COMMAND with
API_URL, SELLER_TOKEN, ADMIN_TOKEN, CUSTOMER_TOKEN and PRODUCT_ID in its environment. Stops the
server afterwards and exits with COMMAND's status. Used by `make contract-test`,
`make browser-test` and `make worker-test`.
"""

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--worker", metavar="BROKER_URL", help="also start a Celery worker; uploads queue their thumbnails there"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command to run after --")

    with socket.socket() as probe:  # another server on the port would answer our health check
        if probe.connect_ex(("127.0.0.1", args.port)) == 0:
            parser.error(f"port {args.port} is already in use")

    workdir = Path(tempfile.mkdtemp(prefix="catalog-live-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecommerce_backend.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "MEDIA_ROOT": str(workdir / "media"),
        "REDIS_URL": os.environ.get("LIVE_REDIS_URL", ""),
        "CELERY_BROKER_URL": args.worker or "",
        "WHITENOISE_USE_FINDERS": "true",
        "GUNICORN_ACCESS_LOG": "",
        # The checks below send thousands of requests from one address on purpose.
        "THROTTLE_ANON": "1000000/hour",
        "THROTTLE_USER": "1000000/hour",
        "THROTTLE_PREMIUM": "1000000/hour",
        "THROTTLE_AUTH": "1000000/minute",
    }
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([*manage, "seed_demo"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    fixtures = subprocess.run(
        [*manage, "shell", "-c", FIXTURES], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    env.update(json.loads(fixtures.stdout.strip().splitlines()[-1]))

    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "ecommerce_backend.wsgi",
         "--bind", f"127.0.0.1:{args.port}", "--workers", "2", "--log-level", "warning"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    worker = None
    if args.worker:
        worker = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "ecommerce_backend", "worker", "--pool", "solo", "--loglevel", "WARNING"],
            env=env, cwd=ROOT,
        )  # fmt: skip
    try:
        _wait_until_up(f"{url}/api/v1/health/", server)
        env["API_URL"] = url
        print(f"live server on {url} (data in {workdir})", flush=True)  # noqa: T201
        return subprocess.run(command, env=env, cwd=ROOT).returncode
    finally:
        for process in (server, worker):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def _wait_until_up(health_url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            with urllib.request.urlopen(health_url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the API did not answer at {health_url}")


# Runs inside `manage.py shell`: an admin and tokens for each role, printed as one JSON line.
FIXTURES = """
import json, secrets
from app.models import Product, User
from app.services import token_pair
admin = User.objects.filter(email="admin@example.com").first() or User.objects.create_superuser(
    email="admin@example.com", username="admin", password=secrets.token_urlsafe(24))
seller = User.objects.get(email="seller1@example.com")
customer = User.objects.get(email="customer1@example.com")
product = Product.objects.filter(seller=seller).order_by("created_at").first()
print(json.dumps({
    "ADMIN_TOKEN": token_pair(admin)["access"],
    "SELLER_TOKEN": token_pair(seller)["access"],
    "CUSTOMER_TOKEN": token_pair(customer)["access"],
    "PRODUCT_ID": str(product.pk),
}))
"""

if __name__ == "__main__":
    sys.exit(main())
