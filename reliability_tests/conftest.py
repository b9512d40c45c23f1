"""Real processes for the reliability tests: a fresh PostgreSQL database reached through a TCP
proxy that can cut the line, a Redis of our own that can be killed, and gunicorn servers.

Needs PostgreSQL on 127.0.0.1:5432 and `redis-server` on the PATH (as on CI). Run with
`make reliability-test`.
"""

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("RELIABILITY_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpProxy:
    """Forwards a local port to PostgreSQL; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target=("127.0.0.1", 5432)):
        self.target, self.port = target, free_port()
        self.sockets: list[socket.socket] = []
        self.listener = None

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        # shutdown() first: close() alone leaves a listener that another thread waits on in accept().
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.sockets.clear()


class Redis:
    """A redis-server of our own on a spare port, so killing it harms nobody else."""

    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        _wait(lambda: socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close() or True)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self):
        self.process.kill()
        self.process.wait()


def _wait(probe, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.2)
    raise TimeoutError("service did not come up")


def base_env(database_url, **extra) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecommerce_backend.settings",
        "DEBUG": "false",
        "SECRET_KEY": "reliability-" + "k" * 50,
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "RESPONSE_CACHE": "false",
        "WHITENOISE_USE_FINDERS": "false",
        "GUNICORN_ACCESS_LOG": "",
        "THROTTLE_ANON": "100000/hour",
        "THROTTLE_USER": "100000/hour",
        "THROTTLE_AUTH": "100000/minute",
        **extra,
    }


@pytest.fixture(scope="session")
def database():
    """A fresh, migrated, seeded PostgreSQL database; dropped at the end."""
    name = f"reliability_{secrets.token_hex(4)}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE {name}")
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    env = base_env(url)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([*manage, "seed_demo"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    yield name
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


class Server:
    """gunicorn serving the project; `get`/`post` answer (status, headers, JSON body)."""

    def __init__(self, env, workers=2):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "ecommerce_backend.wsgi",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--log-level", "warning"],
            env=env, cwd=ROOT,
        )  # fmt: skip
        _wait(lambda: self.get("/api/v1/health/")[0] in (200, 503))  # health is not rate-limited

    def request(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, dict(response.headers), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")

    def get(self, path, token=None):
        return self.request("GET", path, token=token)

    def post(self, path, body, token=None):
        return self.request("POST", path, body, token=token)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def login(server, email="seller1@example.com", password="demo-pass-2026"):
    status, _, body = server.post("/api/v1/auth/login/", {"email": email, "password": password})
    assert status == 200, body
    return body["data"]["tokens"]
