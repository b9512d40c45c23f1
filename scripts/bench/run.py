#!/usr/bin/env python
"""`make bench`: the catalog's read paths against the framework floor (issue 7), on PostgreSQL.

    .venv/bin/python scripts/bench/run.py [--products N] [--rounds 3] [--duration 10] [--smoke]

1. Installs wrk from Debian's package when it is missing.
2. Makes the bench database (BENCH_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/ecommerce_bench), migrates it and seeds it to N generated
   products with `seed_demo --products N` (N from --products, else BENCH_PRODUCTS, else 100000).
   A database that holds another size is dropped and made again, so sizes never mix; the seeded
   size is remembered in the database's comment, so a rerun with the same N does not seed again.
3. Picks search words from the seeded data (rare, common, and one-letter typos of common words),
   cached in a JSON file next to the results.
4. Serves the project twice (response cache off and on) and the floor (scripts/bench/floor.py, a
   bare Django view), each with gunicorn -c gunicorn.conf.py and 2 sync workers, on loopback.
5. Measures every scenario with wrk, round robin, the floor in every round; a scenario's ratio is
   its median req/s over the rounds divided by the floor's median req/s. Records the SQL query
   count of one request per scenario.
6. Prints the table, writes bench/results/<UTC time>-<N>.json and .png, and rewrites
   docs/benchmarks.md from the newest result of each size.

--smoke: a separate tiny database (N=2000), one round of 2 s with 1 wrk thread and 4 connections;
results go to a temporary folder, docs/benchmarks.md is left alone. Exits non-zero when a scenario
has no result or FAILED (errors, non-2xx answers), never for a MISS.

Every process it starts is stopped at the end, also on Ctrl-C, SIGTERM and errors.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RESULTS_DIR = ROOT / "bench" / "results"
SMOKE_DIR = Path(tempfile.gettempdir()) / "ecommerce-bench-smoke"
DOCS_DIR = ROOT / "docs"
DOCS_FILE = DOCS_DIR / "benchmarks.md"
SEARCH_LUA = HERE / "search.lua"
PYTHON = sys.executable

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ecommerce_bench"
DEFAULT_PRODUCTS = 100_000
SMOKE_PRODUCTS = 2_000
REDIS_URL = "redis://127.0.0.1:6379/13"
HUGE_RATE = "100000000/hour"
WORKERS = 2
WRK_TIMEOUT = "30s"  # gunicorn's own timeout: a slow answer is a slow answer, not a socket error

LIST_URL = "/api/v1/products/"
SEARCH_PREFIX = "/api/v1/products/search/?q="
PAGE_SIZE = 20
DEEP_PAGE = 2_500
MIN_WORDS = 200
MAX_RARE_WORDS = 20_000  # enough that a round at the target rate does not repeat a word
TYPOS_PER_WORD = 3
WORDS_VERSION = 1
P99_LIMIT = 6.0  # the uncached list's p99 may be at most this many times the floor's
RESULT_NAME = re.compile(r"^(\d{8}T\d{6}Z)-(\d+)\.json$")


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "floor", "uncached" or "cached"
    what: str
    targets: tuple[float, float] | None = None  # least ratio to the floor at 100k and at 1M
    words: str | None = None  # a search scenario rotates over this word list


SCENARIOS = [
    Scenario("floor", "floor", "bare Django view returning JsonResponse (the floor)"),
    Scenario("list", "uncached", "product list, default ordering, page 20, with count", (0.15, 0.15)),
    Scenario("list_category_price", "uncached", "product list, category=electronics, ordering=-price", (0.12, 0.12)),
    Scenario("detail", "uncached", "product detail", (0.2, 0.2)),
    Scenario("list_cached", "cached", "product list, response cache hit (Redis)", (0.5, 0.5)),
    Scenario("detail_cached", "cached", "product detail, response cache hit (Redis)", (0.5, 0.5)),
    Scenario("search_rare", "uncached", "search, rare words (each in <= 0.05% of rows)", (0.1, 0.1), "rare"),
    Scenario("search_common", "uncached", "search, common words (each in 1-5% of rows)", (0.05, 0.03), "common"),
    Scenario("search_typo", "uncached", "search, one-letter typos of common words", (0.02, 0.01), "typo"),
    Scenario("deep_page", "uncached", f"product list, page {DEEP_PAGE:,}", (0.1, 0.1)),
]
STATIC_PATHS = {
    "list": LIST_URL,
    "list_category_price": f"{LIST_URL}?category=electronics&ordering=-price",
    "list_cached": LIST_URL,
}


def say(message: str = "") -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


class BenchError(Exception):
    """A step of the bench failed; the message says which."""


# ---------------------------------------------------------------------------
# Processes: every child gets its own process group, and all of them are stopped at the end
# ---------------------------------------------------------------------------


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: if the bench is killed -9


class Processes:
    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, command: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)
        self.running.append(process)
        return process

    def run(self, command: list[str], *, check: bool = True, capture: bool = True, **kwargs) -> str:
        """Run to the end; returns its stdout (with capture) and raises BenchError when it fails."""
        if capture:
            kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        process = self.start(command, **kwargs)
        try:
            stdout, stderr = process.communicate()
        finally:
            self.stop(process)
        if check and process.returncode != 0:
            detail = (stderr or stdout or "").strip()[-3000:] if capture else ""
            raise BenchError(f"{' '.join(command[:4])} ... exited with {process.returncode}\n{detail}")
        return stdout or ""

    def stop(self, process: subprocess.Popen, timeout: float = 15) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        else:  # the leader is gone; its group (gunicorn workers) may not be
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for process in reversed(list(self.running)):
                self.stop(process)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class Stopped(Exception):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so that every process started is stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum, frame):
    raise Stopped(signum)


# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------


def ensure_wrk(procs: Processes) -> str:
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is missing: installing Debian's package (apt-get install wrk)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    procs.run([*sudo, "apt-get", "update", "-qq"], env=env)
    procs.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], env=env)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is still missing after apt-get install wrk")
    return found


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", value).groups()
    return float(number) * _UNITS_MS[unit]


def parse_wrk(text: str) -> dict:
    """req/s, latency percentiles (ms) and error counts from wrk's --latency report."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    count = re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", text, re.M)
    if not rate or not count:
        raise BenchError(f"could not read wrk's report:\n{text}")
    latency = {int(p): _to_ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+([\d.]+[a-z]+)\s*$", text, re.M)}
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = {}
    if sockets:
        socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True))
    return {
        "rps": float(rate.group(1)),
        "requests": int(count.group(1)),
        "p50_ms": latency.get(50),
        "p75_ms": latency.get(75),
        "p90_ms": latency.get(90),
        "p99_ms": latency.get(99),
        "socket_errors": socket_errors,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "errors": sum(socket_errors.values()) + (int(non_2xx.group(1)) if non_2xx else 0),
    }


# ---------------------------------------------------------------------------
# The bench database
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    url: str

    @property
    def name(self) -> str:
        return unquote(urlsplit(self.url).path.lstrip("/"))

    def with_name(self, name: str) -> Database:
        parts = urlsplit(self.url)
        return Database(urlunsplit(parts._replace(path=f"/{name}")))

    def connect(self, maintenance: bool = False):
        import psycopg

        parts = urlsplit(self.url)
        return psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            dbname="postgres" if maintenance else self.name,
            autocommit=True,
        )

    def query(self, sql: str, params=None, maintenance: bool = False) -> list[tuple]:
        connection = self.connect(maintenance)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def execute(self, sql, params=None, maintenance: bool = False) -> None:
        self.query(sql, params, maintenance)


def prepare_database(db: Database, products: int, procs: Processes, env: dict) -> str:
    """Create, migrate and seed the bench database; returns the time the seed was finished (its identity)."""
    from psycopg import sql

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", db.name):
        raise BenchError(f"unexpected database name {db.name!r} in {db.url}")
    ident = sql.Identifier(db.name)
    if not db.query("SELECT 1 FROM pg_database WHERE datname = %s", [db.name], maintenance=True):
        say(f"Creating database {db.name}")
        db.execute(sql.SQL("CREATE DATABASE {}").format(ident), maintenance=True)

    marker = _read_marker(db)
    count = _generated_products(db)
    interrupted_same_size = marker.get("products") == products and count < products
    if count and count != products and not interrupted_same_size:
        say(f"{db.name} holds {count:,} generated products, not {products:,}: dropping and recreating it")
        db.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident), maintenance=True)
        db.execute(sql.SQL("CREATE DATABASE {}").format(ident), maintenance=True)
        marker, count = {}, 0

    say(f"Migrating {db.name}")
    procs.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env)
    if count == products and marker.get("products") == products and marker.get("seeded"):
        say(f"{db.name} already holds {products:,} generated products (seeded {marker['seeded']}): not seeding")
        db.execute("ANALYZE app_product")
        return marker["seeded"]

    _write_marker(db, products, None)
    say(f"Seeding {db.name} to {products:,} generated products (seed_demo, resumable)")
    started = time.monotonic()
    procs.run([PYTHON, "manage.py", "seed_demo", "--products", str(products)], cwd=ROOT, env=env, capture=False)
    count = _generated_products(db)
    if count != products:
        raise BenchError(f"seed_demo left {count} generated products, expected {products}")
    say("VACUUM ANALYZE app_product")
    db.execute("VACUUM (ANALYZE) app_product")
    seeded = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write_marker(db, products, seeded)
    say(f"Seed step took {time.monotonic() - started:.0f} s")
    return seeded


def _generated_products(db: Database) -> int:
    if not db.query("SELECT to_regclass('app_product')")[0][0]:
        return 0
    return db.query("SELECT count(*) FROM app_product WHERE sku LIKE 'BULK-%'")[0][0]


def _read_marker(db: Database) -> dict:
    """The database's comment: `ecommerce-bench products=N seeded=<UTC time or ->`."""
    rows = db.query(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [db.name], maintenance=True
    )
    match = re.fullmatch(r"ecommerce-bench products=(\d+) seeded=(\S+)", (rows[0][0] or "") if rows else "")
    if not match:
        return {}
    return {"products": int(match.group(1)), "seeded": None if match.group(2) == "-" else match.group(2)}


def _write_marker(db: Database, products: int, seeded: str | None) -> None:
    from psycopg import sql

    comment = f"ecommerce-bench products={products} seeded={seeded or '-'}"
    db.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(db.name), sql.Literal(comment)))


# ---------------------------------------------------------------------------
# Search words
# ---------------------------------------------------------------------------

WORD = re.compile(r"[a-z]{3,}")


def prepare_words(db: Database, products: int, seeded: str, cache_file: Path) -> dict:
    """Rare, common and typo word lists from the seeded data, cached per database, size and seed."""
    key = f"{db.name}:{products}"
    cache = {}
    if cache_file.exists():
        with contextlib.suppress(ValueError):
            cache = json.loads(cache_file.read_text())
    entry = cache.get(key)
    if entry and entry.get("seeded") == seeded and entry.get("version") == WORDS_VERSION:
        say(f"Search words from {cache_file.relative_to(ROOT) if cache_file.is_relative_to(ROOT) else cache_file}")
        return entry

    say("Picking search words from the seeded data (ts_stat)")
    started = time.monotonic()
    active = db.query("SELECT count(*) FROM app_product WHERE is_active")[0][0]
    stems = dict(db.query("SELECT word, ndoc FROM ts_stat('SELECT search_vector FROM app_product WHERE is_active')"))
    # Surface forms as written: a stem that is also a written word can be searched as typed.
    surface = {
        word
        for (word,) in db.query(
            "SELECT word FROM ts_stat($$SELECT to_tsvector('simple', coalesce(name, '') || ' ' || "
            "coalesce(description, '')) FROM app_product WHERE is_active$$)"
        )
    }
    rare_max = max(1, math.floor(active * 0.0005))
    common_min, common_max = max(1, math.ceil(active * 0.01)), max(1, math.floor(active * 0.05))
    rng = random.Random(f"{db.name}:{products}:{seeded}")
    warnings = []

    def pick(low: int, high: int, cap: int | None, label: str) -> list[str]:
        band = sorted(w for w, n in stems.items() if low <= n <= high and WORD.fullmatch(w))
        preferred = [w for w in band if w in surface]
        others = [w for w in band if w not in surface]
        chosen = preferred + others[: max(0, MIN_WORDS - len(preferred))]
        rng.shuffle(chosen)
        chosen = chosen[:cap] if cap else chosen
        if len(chosen) < MIN_WORDS:
            warnings.append(f"only {len(chosen)} {label} words (ndoc {low}-{high}) exist; fewer than {MIN_WORDS}")
        if len(chosen) > len(preferred):
            warnings.append(f"{len(chosen) - len(preferred)} {label} words are stems that never appear as written")
        return chosen

    rare = pick(1, rare_max, MAX_RARE_WORDS, "rare")
    common = pick(common_min, common_max, None, "common")
    typos = _typos(db, common, stems, surface, rng)
    if len(typos) < MIN_WORDS:
        warnings.append(f"only {len(typos)} typo words; fewer than {MIN_WORDS}")
    entry = {
        "version": WORDS_VERSION,
        "seeded": seeded,
        "active_products": active,
        "bands": {"rare": [1, rare_max], "common": [common_min, common_max]},
        "rare": rare,
        "common": common,
        "typo": typos,
        "warnings": warnings,
    }
    entry["ndoc"] = {kind: _spread([stems[w] for w in entry[kind]]) for kind in ("rare", "common")}
    cache[key] = entry
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
    say(f"  {len(rare)} rare, {len(common)} common, {len(typos)} typo words ({time.monotonic() - started:.1f} s)")
    return entry


def _spread(values: list[int]) -> dict:
    if not values:
        return {}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _typos(db: Database, common: list[str], stems: dict, surface: set, rng: random.Random) -> list[str]:
    """Up to TYPOS_PER_WORD one-letter typos per common word (two adjacent inner letters swapped, or
    one inner letter replaced), none of them a word or the stem of a word of the catalog."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    candidates: dict[str, list[str]] = {}
    for word in common:
        if len(word) < 4:
            continue
        options = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(1, len(word) - 2)}
        options |= {word[:i] + c + word[i + 1 :] for i in range(1, len(word) - 1) for c in letters}
        options = sorted(o for o in options if o != word and o not in stems and o not in surface)
        rng.shuffle(options)
        candidates[word] = options[: TYPOS_PER_WORD * 4]
    every = sorted({t for options in candidates.values() for t in options})
    stem_of = dict(db.query("SELECT t, (ts_lexize('english_stem', t))[1] FROM unnest(%s::text[]) AS t", [every]))
    taken: set[str] = set()
    per_word = []
    for options in candidates.values():
        good = [t for t in options if stem_of.get(t) not in stems and t not in taken][:TYPOS_PER_WORD]
        taken.update(good)
        per_word.append(good)
    # The first typo of every word, then the second of every word, and so on.
    return [typos[k] for k in range(TYPOS_PER_WORD) for typos in per_word if len(typos) > k]


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def project_env(db: Database, secret_key: str, response_cache: bool) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecommerce_backend.settings",
        "DEBUG": "false",
        "SECRET_KEY": secret_key,
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": db.url,
        "REDIS_URL": REDIS_URL,
        "RESPONSE_CACHE": "true" if response_cache else "false",
        "CELERY_BROKER_URL": "",  # blank is unset, and a blank value is not replaced by `.env`
        "THROTTLE_ANON": HUGE_RATE,
        "THROTTLE_USER": HUGE_RATE,
        "THROTTLE_PREMIUM": HUGE_RATE,
        "THROTTLE_AUTH": HUGE_RATE,
        "WHITENOISE_USE_FINDERS": "false",
        "GUNICORN_ACCESS_LOG": "",
        "LOG_LEVEL": "INFO",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("WEB_CONCURRENCY", None)
    env.pop("GUNICORN_BIND", None)
    return env


@dataclass
class Server:
    name: str
    port: int
    health: str
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    procs: Processes, name: str, app: str, env: dict, health: str, logs: Path, gunicorn_args: list[str]
) -> Server:
    port = _free_port()
    log = logs / f"{name}.log"
    command = [
        PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app,
        "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--log-level", "warning", *gunicorn_args,
    ]  # fmt: skip
    with log.open("w") as out:
        process = procs.start(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(name, port, health, process, log)


def http_get(server: Server, path: str, timeout: float = 30) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": "127.0.0.1"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_up(server: Server, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"the {server.name} server exited during start-up:\n{_tail(server.log)}")
        with contextlib.suppress(OSError):
            if http_get(server, server.health, timeout=5)[0] == 200:
                return
        time.sleep(0.25)
    raise BenchError(
        f"the {server.name} server did not answer {server.health} in {timeout:.0f} s:\n{_tail(server.log)}"
    )


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def drain(server: Server) -> None:
    """After wrk stops, gunicorn still answers the requests left in its listen queue; wait for them,
    so they do not slow down the next scenario."""
    with contextlib.suppress(OSError):
        http_get(server, server.health, timeout=60)
    time.sleep(0.2)


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()


def start_servers(procs: Processes, uncached_env: dict, cached_env: dict, logs: Path, gunicorn_args: list) -> dict:
    floor_env = {k: v for k, v in uncached_env.items() if k != "DJANGO_SETTINGS_MODULE"}
    project, health = "ecommerce_backend.wsgi", "/api/v1/health/"
    return {
        "uncached": start_server(procs, "uncached", project, uncached_env, health, logs, gunicorn_args),
        "cached": start_server(procs, "cached", project, cached_env, health, logs, gunicorn_args),
        "floor": start_server(
            procs, "floor", "floor:application", floor_env, "/", logs, [*gunicorn_args, "--pythonpath", str(HERE)]
        ),
    }


# ---------------------------------------------------------------------------
# URLs and SQL query counts, from inside Django (django.test.Client, CaptureQueriesContext)
# ---------------------------------------------------------------------------

PROBE = r"""
import json, math, os
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

spec = json.loads(os.environ["BENCH_PROBE"])
client = Client(HTTP_HOST="127.0.0.1")
urls = dict(spec["urls"])
found = {}
if spec.get("discover"):
    response = client.get(spec["discover"])
    body = json.loads(response.content)
    count = body["count"]
    found = {"count": count, "page_size": len(body["results"]) or 1}
    urls["detail"] = spec["discover"] + body["results"][0]["id"] + "/"
    last = max(1, math.ceil(count / spec["page_size"]))
    found["deep_page"] = min(spec["deep_page"], last)
    urls["deep_page"] = spec["discover"] + "?page=%d" % found["deep_page"]
queries = {}
for name, url in urls.items():
    # Warm up first: the same URL where the bench repeats it (caches as warm as on the running server);
    # another word for search, whose words the bench rotates.
    client.get(spec.get("warm", {}).get(name, url))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    queries[name] = {"queries": len(captured.captured_queries), "status": response.status_code}
print("BENCH-JSON " + json.dumps({"urls": urls, "queries": queries, "found": found}))
"""


def find_urls(procs: Processes, uncached_env: dict, cached_env: dict, words: dict) -> tuple[dict, dict, dict]:
    """Each scenario's path, and the SQL queries of one request of it (a real product for `detail`,
    page 2,500 or the last page for `deep_page`, the first word of each list for search)."""
    say("Finding the URLs and counting SQL queries per request (django.test.Client)")
    search_words = {s.name: words[s.words][:2] for s in SCENARIOS if s.words}
    uncached = probe(procs, uncached_env, {
        "discover": LIST_URL, "page_size": PAGE_SIZE, "deep_page": DEEP_PAGE,
        "urls": {
            "list": STATIC_PATHS["list"], "list_category_price": STATIC_PATHS["list_category_price"],
            **{name: SEARCH_PREFIX + pair[0] for name, pair in search_words.items()},
        },
        "warm": {name: SEARCH_PREFIX + pair[-1] for name, pair in search_words.items()},
    })  # fmt: skip
    paths = {"floor": "/", **uncached["urls"], "list_cached": STATIC_PATHS["list_cached"]}
    paths["detail_cached"] = paths["detail"]
    cached = probe(procs, cached_env, {"urls": {"list_cached": paths["list_cached"], "detail_cached": paths["detail"]}})
    queries = {**uncached["queries"], **cached["queries"], "floor": {"queries": 0, "status": None}}
    return paths, queries, uncached["found"]


def probe(procs: Processes, env: dict, spec: dict) -> dict:
    output = procs.run(
        [PYTHON, "manage.py", "shell", "-c", PROBE], cwd=ROOT, env={**env, "BENCH_PROBE": json.dumps(spec)}
    )
    for line in reversed(output.splitlines()):
        if line.startswith("BENCH-JSON "):
            return json.loads(line.removeprefix("BENCH-JSON "))
    raise BenchError(f"the query-count probe printed no result:\n{output[-2000:]}")


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


@dataclass
class Settings:
    products: int
    rounds: int
    duration: int
    warmup: int
    threads: int
    connections: int
    smoke: bool
    max_requests: bool
    only: frozenset = frozenset()  # --only: these scenarios (and the floor), nothing written


def run_wrk(procs: Processes, wrk: str, cfg: Settings, server: Server, path: str, seconds: int, words=None) -> dict:
    command = [wrk, f"-t{cfg.threads}", f"-c{cfg.connections}", f"-d{seconds}s", "--latency", "--timeout", WRK_TIMEOUT]
    if words:
        words_file, start = words
        command += ["-s", str(SEARCH_LUA), server.base, "--", str(words_file), SEARCH_PREFIX, str(cfg.threads)]
        command.append(str(start))
    else:
        command.append(server.base + path)
    try:
        return parse_wrk(procs.run(command))
    finally:
        drain(server)


def measure(procs, wrk, cfg: Settings, servers: dict, paths: dict, words_files: dict) -> dict:
    runs: dict[str, list[dict]] = {s.name: [] for s in SCENARIOS}
    sent = dict.fromkeys(words_files, 0)  # search words sent so far, so each round carries on from there
    for number in range(1, cfg.rounds + 1):
        for scenario in SCENARIOS:
            if cfg.only and scenario.name not in cfg.only | {"floor"}:
                continue
            server = servers[scenario.server]
            words = None
            if scenario.words:
                words = (words_files[scenario.words], sent[scenario.words])
            if number == 1 and cfg.warmup:
                warm = run_wrk(procs, wrk, cfg, server, paths[scenario.name], cfg.warmup, words)
                if scenario.words:
                    sent[scenario.words] += warm["requests"] + cfg.connections
                    words = (words_files[scenario.words], sent[scenario.words])
            result = run_wrk(procs, wrk, cfg, server, paths[scenario.name], cfg.duration, words)
            if scenario.words:
                sent[scenario.words] += result["requests"] + cfg.connections
            runs[scenario.name].append(result)
            errors = f"  ERRORS {result['errors']}" if result["errors"] else ""
            say(
                f"  round {number}/{cfg.rounds}  {scenario.name:<20} {result['rps']:9.1f} req/s"
                f"  p50 {_ms(result['p50_ms'])}  p99 {_ms(result['p99_ms'])}{errors}"
            )
    return runs


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:8.2f} ms"


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


def summarise(cfg: Settings, runs: dict, paths: dict, queries: dict, statuses: dict, words: dict) -> dict:
    column = 1 if cfg.products >= 1_000_000 else 0
    rows = []
    floor_runs = runs["floor"]
    floor_rps = statistics.median(r["rps"] for r in floor_runs) if floor_runs else 0.0
    floor_p99 = _median([r["p99_ms"] for r in floor_runs])
    for scenario in SCENARIOS:
        measured = runs.get(scenario.name) or []
        row = {
            "scenario": scenario.name,
            "what": scenario.what,
            "server": scenario.server,
            "path": paths.get(scenario.name),
            "rounds": measured,
            "rps": statistics.median(r["rps"] for r in measured) if measured else None,
            "p50_ms": _median([r["p50_ms"] for r in measured]),
            "p99_ms": _median([r["p99_ms"] for r in measured]),
            "errors": sum(r["errors"] for r in measured),
            "queries": (queries.get(scenario.name) or {}).get("queries"),
            "status": statuses.get(scenario.name),
            "target": scenario.targets[column] if scenario.targets else None,
            "notes": [],
        }
        row["ratio"] = row["rps"] / floor_rps if row["rps"] is not None and floor_rps else None
        if scenario.words:
            per_round = statistics.median(r["requests"] for r in measured) if measured else 0
            listed = len(words[scenario.words])
            row["words"] = listed
            if per_round > listed:
                row["notes"].append(f"{listed} words for ~{per_round:.0f} requests a round: words repeat")
        if row["status"] not in (None, 200):
            row["notes"].append(f"answers {row['status']}, not 200")
        if not measured:
            row["result"] = "MISSING"
        elif row["errors"] or row["status"] not in (None, 200):
            row["result"] = "FAILED"
        elif row["target"] is None:
            row["result"] = ""
        else:
            row["result"] = "PASS" if row["ratio"] >= row["target"] else "MISS"
        rows.append(row)
    list_p99 = next(r["p99_ms"] for r in rows if r["scenario"] == "list")
    p99_ratio = list_p99 / floor_p99 if list_p99 is not None and floor_p99 else None
    p99 = {
        "scenario": "list_p99",
        "what": "p99 of the uncached default list / p99 of the floor",
        "list_p99_ms": list_p99,
        "floor_p99_ms": floor_p99,
        "ratio": p99_ratio,
        "limit": P99_LIMIT,
        "result": "MISSING" if p99_ratio is None else ("PASS" if p99_ratio <= P99_LIMIT else "MISS"),
    }
    return {"rows": rows, "p99": p99, "targets_column": ["100k", "1M"][column], "floor_rps": floor_rps}


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value, spec: str, empty: str = "-") -> str:
    return empty if value is None else format(value, spec)


def table_rows(summary: dict) -> list[list[str]]:
    out = []
    for row in summary["rows"]:
        target = "" if row["target"] is None else f">= {row['target']:g}"
        out.append([
            row["scenario"], _fmt(row["rps"], ".1f"), _fmt(row["p50_ms"], ".2f"), _fmt(row["p99_ms"], ".2f"),
            _fmt(row["ratio"], ".3f"), target, row["result"] or "-", _fmt(row["queries"], "d"),
        ])  # fmt: skip
    p99 = summary["p99"]
    out.append([
        "list p99 / floor p99", "", "", _fmt(p99["list_p99_ms"], ".2f"),
        _fmt(p99["ratio"], ".2f") + ("x" if p99["ratio"] is not None else ""),
        f"<= {p99['limit']:g}x", p99["result"], "",
    ])  # fmt: skip
    return out


HEADER = ["scenario", "req/s", "p50 ms", "p99 ms", "ratio", "target", "result", "queries"]


def text_table(summary: dict) -> str:
    rows = [HEADER, *table_rows(summary)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = []
    for n, row in enumerate(rows):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(summary: dict) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|---|" + "---:|" * (len(HEADER) - 3) + ":-:|---:|"]
    for row in table_rows(summary):
        cells = [row[0], *row[1:6], f"**{row[6]}**" if row[6] in ("MISS", "FAILED", "MISSING") else row[6], row[7]]
        lines.append("| " + " | ".join(c.replace(">= ", "≥ ").replace("<= ", "≤ ") for c in cells) + " |")
    return "\n".join(lines)


def machine_info(db: Database) -> dict:
    info = {"nproc": len(os.sched_getaffinity(0)), "cpu": platform.processor() or platform.machine()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(Exception):
        info["postgresql"] = db.query("SHOW server_version")[0][0]
    info["kernel"] = platform.release()
    info["python"] = platform.python_version()
    for package in ("Django", "djangorestframework", "gunicorn"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            info[package.lower()] = metadata.version(package)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        info["wrk"] = (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0]
    return info


def git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def write_chart(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is missing (pip install -r requirements-bench.txt): no chart")
        return False
    rows = [r for r in result["summary"]["rows"] if r["target"] is not None]
    colours = {"PASS": "#2e7d32", "MISS": "#ef6c00", "FAILED": "#c62828", "MISSING": "#9e9e9e"}
    figure, axes = plt.subplots(figsize=(10, 5.5), dpi=110)
    positions = range(len(rows))
    ratios = [r["ratio"] or 0.0 for r in rows]
    bars = axes.bar(
        positions, [max(v, 1e-4) for v in ratios], color=[colours.get(r["result"], "#9e9e9e") for r in rows]
    )
    for x, row in zip(positions, rows, strict=True):
        axes.hlines(row["target"], x - 0.42, x + 0.42, colors="black", linewidth=2)
    for bar, value in zip(bars, ratios, strict=True):
        axes.annotate(f"{value:.3f}", (bar.get_x() + bar.get_width() / 2, max(value, 1e-4)), ha="center",
                      va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")  # fmt: skip
    axes.set_yscale("log")
    axes.set_ylim(min([0.005, *[v for v in ratios if v > 0]]) / 1.5, 1.5)
    axes.set_xticks(list(positions), [r["scenario"] for r in rows], rotation=30, ha="right")
    axes.set_ylabel("median req/s / floor's median req/s (log)")
    p99 = result["summary"]["p99"]
    p99_text = f"list p99 = {p99['ratio']:.1f}x floor p99 (limit {P99_LIMIT:g}x)" if p99["ratio"] else ""
    axes.set_title(
        f"{result['products']:,} products: ratio to the floor ({result['summary']['floor_rps']:.0f} req/s), "
        f"median of {result['config']['rounds']} round(s)\nblack line = target; {p99_text}",
        fontsize=10,
    )
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    axes.legend(handles, list(colours), loc="upper right", fontsize=8)
    axes.grid(axis="y", which="both", alpha=0.3)
    figure.text(0.01, 0.01, f"{result['started_at']}  commit {result['git_commit']}", fontsize=7, color="#666")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def write_docs() -> None:
    """docs/benchmarks.md from the newest result of each size in bench/results/."""
    newest: dict[int, Path] = {}
    for path in sorted(RESULTS_DIR.glob("*.json")):
        match = RESULT_NAME.match(path.name)
        if match:
            newest[int(match.group(2))] = path  # sorted by time: the last one wins
    DOCS_DIR.mkdir(exist_ok=True)
    sections = []
    latest_machine, latest_time = None, ""
    for products in sorted(newest):
        result = json.loads(newest[products].read_text())
        if newest[products].name > latest_time:
            latest_machine, latest_time = result["machine"], newest[products].name
        chart = newest[products].with_suffix(".png")
        image = ""
        if chart.exists():
            shutil.copyfile(chart, DOCS_DIR / f"benchmarks-{products}.png")
            image = f"\n![Ratios to the floor at {products:,} products](benchmarks-{products}.png)\n"
        cfg = result["config"]
        notes = [f"- {w}" for w in result.get("warnings", [])]
        notes += [f"- `{r['scenario']}`: {n}" for r in result["summary"]["rows"] for n in r["notes"]]
        sections.append(
            f"## {products:,} products\n\n"
            f"Run {result['started_at']} on commit `{result['git_commit']}`, "
            f"{cfg['rounds']} rounds of {cfg['duration_s']} s, wrk -t{cfg['threads']} -c{cfg['connections']}, "
            f"targets of the {result['summary']['targets_column']} column; took {result['elapsed_s'] / 60:.1f} min. "
            f"Raw data: `bench/results/{newest[products].name}`. Machine: {_machine_line(result['machine'])}.\n\n"
            f"{markdown_table(result['summary'])}\n" + ("\n" + "\n".join(notes) + "\n" if notes else "") + image
        )
    machine = ""
    if latest_machine:
        m = latest_machine
        machine = (
            f"- {m.get('nproc')} CPUs: {m.get('cpu')}; {m.get('memory_gib')} GiB of memory\n"
            f"- PostgreSQL {m.get('postgresql')}; Redis on 127.0.0.1 (database 13); kernel {m.get('kernel')}\n"
            f"- Python {m.get('python')}, Django {m.get('django')}, DRF {m.get('djangorestframework')}, "
            f"gunicorn {m.get('gunicorn')}, {m.get('wrk')}\n"
        )
    DOCS_FILE.write_text(DOCS_TEMPLATE.format(machine=machine, sections="\n".join(sections) or "No results yet.\n"))


def _machine_line(m: dict) -> str:
    load = m.get("load_average_at_start"), m.get("load_average_at_end")
    return (
        f"{m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('memory_gib')} GiB, PostgreSQL "
        f"{str(m.get('postgresql', '?')).split()[0]}; load average {load[0][0] if load[0] else '?'} at the start, "
        f"{load[1][0] if load[1] else '?'} at the end"
    )


DOCS_TEMPLATE = """# Benchmarks

<!-- Written by scripts/bench/run.py from the newest bench/results/*.json of each size; edits are lost. -->

`make bench` measures the catalog's anonymous read paths (issue 7) on PostgreSQL against the
**floor**: a bare Django view returning `JsonResponse({{"ok": True}})` (`scripts/bench/floor.py`),
served by the same gunicorn with the same 2 sync workers, measured in every round of the same run.
A scenario's **ratio** is its median req/s over the rounds divided by the floor's median req/s, so
that a slow or busy machine cancels out; absolute numbers on shared machines are not stable.

## How to run

```sh
make bench                          # 100,000 products (about 6 minutes, plus a first seed of ~30 s)
BENCH_PRODUCTS=1000000 make bench   # 1,000,000 products (the first seed takes several minutes)
make bench-smoke                    # 2,000 products, one 2 s round: checks that the bench works (< 1 min)
```

Or directly: `.venv/bin/python scripts/bench/run.py [--products N] [--rounds 3] [--duration 10] [--smoke]`.
While working on one path, `--only list,detail` measures just those scenarios (and the floor) and
writes nothing. A database holds one size: to keep a 1M seed beside the 100k one, give it its own
database, e.g. `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecommerce_bench_1m`.
It needs PostgreSQL and Redis on 127.0.0.1 (as `.ci/run` starts them) and
[wrk](https://github.com/wg/wrk), which comes from Debian's `wrk` package: the script installs it with
`apt-get install wrk` when it is missing (as root, or through sudo). Its chart needs matplotlib
(`requirements-bench.txt`).

What a run does:

1. Makes the database `BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/ecommerce_bench`;
   the smoke run uses `<name>_smoke`), migrates it and seeds it with `manage.py seed_demo --products N`.
   The database's comment remembers the seeded size: a rerun with the same N does not seed again;
   a database holding another size is dropped and made again, so sizes never mix.
2. Picks search words from the seeded data with `ts_stat` over `search_vector` (cached in
   `bench/results/words-cache.json`): **rare** words in at most 0.05% of the active products, **common** words
   in 1-5% of them (words searched as written, whose English stem is the word itself, preferred), and
   **typos**: one-letter typos of the common words (two adjacent inner letters swapped, or one inner letter
   replaced) that are no word of the catalog, up to 3 per common word. The seed has only some 250 common
   words, so at a few hundred req/s the common and typo lists come round again within a round; the
   table's notes say when (a cache keyed by the query then answers the repeats).
3. Starts three gunicorn servers on loopback (`-c gunicorn.conf.py --workers 2`, DEBUG off, a random
   SECRET_KEY, Redis database 13 flushed first as the cache, throttling rates out of reach): the project
   with `RESPONSE_CACHE=false` (**uncached**), the project with `RESPONSE_CACHE=true` (**cached**), and
   the floor. All three run with `--max-requests 0`: with the config's `max_requests = 2000`, workers of
   the floor restart about every second under load, which costs the floor a quarter of its throughput and
   multiplies its p99 by 20, and so would make every ratio and the p99 target meaningless
   (`--keep-max-requests` measures with the config's value).
4. Runs every scenario with `wrk -t2 -c16 -d10s --latency --timeout 30s` (after one 2 s warm-up
   of each in the first round), round robin for 3 rounds, the floor in every round. Search scenarios
   rotate request by request over their word list (`scripts/bench/search.lua`), each thread at its own
   offset, each round carrying on where the last one stopped. After each measurement the server's queue
   is drained before the next one starts.
5. Counts the SQL queries of one request of each scenario with `django.test.Client` inside
   `CaptureQueriesContext`, after one warm-up request: of the same URL (caches as warm as on the running
   server, which repeats that URL), or of another word for search (whose words the bench rotates).
6. Prints the table, writes `bench/results/<UTC time>-<N>.json` (every round, the machine, the commit)
   and a chart `bench/results/<UTC time>-<N>.png`, and rewrites this page from the newest result of
   each size. It stops every process it started, also on Ctrl-C.

A row is **FAILED** when any request of it failed (socket error, timeout, an answer other than 2xx);
otherwise **PASS** or **MISS** against issue 7's target for that size (1M column from 1,000,000 products,
100k column below). The exit status is non-zero for a FAILED or missing row, never for a MISS.

| scenario | what | target 100k | target 1M |
|---|---|---:|---:|
| `list` | `/api/v1/products/`: default ordering, page of 20, with `count` | ≥ 0.15 | ≥ 0.15 |
| `list_category_price` | `/api/v1/products/?category=electronics&ordering=-price` | ≥ 0.12 | ≥ 0.12 |
| `detail` | `/api/v1/products/<id>/` of an active product | ≥ 0.2 | ≥ 0.2 |
| `list_cached`, `detail_cached` | the same URLs on the cached server, cache hits | ≥ 0.5 | ≥ 0.5 |
| `search_rare` | `/api/v1/products/search/?q=<rare word>` | ≥ 0.1 | ≥ 0.1 |
| `search_common` | `/api/v1/products/search/?q=<common word>` | ≥ 0.05 | ≥ 0.03 |
| `search_typo` | `/api/v1/products/search/?q=<typo>` | ≥ 0.02 | ≥ 0.01 |
| `deep_page` | `/api/v1/products/?page=2500` (the last page when there are fewer) | ≥ 0.1 | ≥ 0.1 |
| `list p99 / floor p99` | median p99 latency of `list` over the floor's | ≤ 6x | ≤ 6x |

## What makes the read paths fast

- **Response cache, never stale** (`app/caching.py`): anonymous catalog GETs are stored as ready bytes
  with every header the lower middleware set, CORS's included, keyed by method, host, path, `Accept`
  and `Origin`; each entry carries the catalog version it was rendered at, a number every catalog
  write bumps on commit. A hit is one Redis round trip (the version, the entry and the caller's
  rate-limit counter, sent together on a connection each process keeps for them: redis-py's
  Pipeline object cost more client CPU than the trip, and taking a connection from the pool and
  handing it back about 20 µs more) high in the middleware stack; a miss takes a short lock so a burst renders once. The
  rate limit reads the client's address from `META` (DRF's `get_ident` copies every header into
  `request.headers` first). A list hit went from 955k to 840k instructions with these two.
- **Rows, not model instances**: product reads use `Product.objects.for_listing()`, a `values()` query
  with category and seller joined; on PostgreSQL each row also carries its images (a `JSONB_AGG`
  subquery written as one constant SQL expression, which costs nothing to compile), so a page or a
  detail is one query. The representation is written out by hand from the row
  (a test holds it equal to the declared serializer fields, which still drive the schema). An
  anonymous detail runs SQL compiled once per process (`RowByPk`): between two details only the id
  changes, and building and compiling the query cost more Python than running it (+22-25% req/s).
  Its plan is kept (below), so reading the category and seller with subqueries instead of joins,
  which plans faster (+12% while it was planned at every run), no longer pays: it reads the joins.
  A list page's SQL is compiled once too (`CompiledRows`): within a catalog version, a list (path,
  filters, caller) is always the same query, so each process keeps the SQL of the pages it served
  for that version (60 s at most) and sends it again; the rows still come from the database. A
  sixth fewer instructions per default or category list, a third fewer per deep page, whose
  anchor is the same within a version (callgrind); interleaved A/B at 100k: list +16%, category
  list +23%, page 2,500 +47%.
- **Counts exact and cheap**: remembered per filter combination and catalog version; a list ordered by
  relevance gets its count in the page query (`COUNT(*) OVER ()`), since ranking reads every match
  anyway, and only the process remembers it (a new search costs no round trip to the cache for it).
- **Deep pages from keyset anchors**: past offset 1,000, a page starts from the sort key of the row
  before the nearest multiple of 20 rows, found once per catalog version and remembered; each deep
  page also remembers its last row as the next page's anchor (page 2,500 reads 20 index entries
  instead of 50,000, and reading page after page computes no anchor); relevance orderings find their
  ids first instead.
- **Search**: a stored, weighted, GIN-indexed `tsvector`; typo tolerance (a word's look-alikes) only for
  words no product has, so a real word never drags in and ranks look-alikes. A typo stands for the words
  of product names one letter away from it, found as SymSpell finds them: the database keeps every
  spelling of the names' words (each word, and each word less one of its letters: 222k rows at 1M) in
  a table, kept by triggers, and a typo's own spellings are one index scan (0.15 ms; the look-up, which
  also checks that an active product's name has each word found, about 2 ms). Its look-alikes
  are then found through the names' word index like any word. At 1M a typo used to be a trigram scan
  of a million names (8 ms) plus a recheck of ~600 of them, 45-54 ms of PostgreSQL a request.
  Name matches come first, newest first, then the rest by weighted rank. A query of common words
  (those PostgreSQL's statistics list as the most frequent) is read in these two tiers: its first
  pages come from a GIN index of the names' words, read newest first, instead of ranking the tens of
  thousands of products that have the word somewhere in their description; such a word, once this
  process knows its stems, costs no query to tell it from a typo. The relevance order is written as
  SQL: built from Django's expressions it took a tenth of a rare-word search to build and compile.
- **A search of words alone is compiled once** (`CompiledSearch`): `?q=` with nothing but a page
  skips the FilterSet, and a query read as written (most searches of known words) is one statement
  whatever its words, which are one parameter: each page's SQL is compiled once per process with
  stand-in words, and a search puts its words in their place. When none of its words may be common
  (told by Snowball's English stemmer, PyStemmer, the one PostgreSQL's English configuration uses,
  against the statistics' common words), the search does not first ask PostgreSQL which words are
  typos: it asks only when nothing matches, and then reads a typo by its look-alikes as before. A
  rare-word search went from 10.56M to 5.65M instructions (callgrind) and from two queries to one:
  0.055 to 0.102 of the floor at 100k. Its statement is prepared, so PostgreSQL parses it once per
  connection (0.1 ms a search); PostgreSQL still plans it for each search's words. At 1M it stays
  near 0.05: a rare word there is in up to 500 products, each ranked from its heap row (about
  3.7 ms of PostgreSQL per search, measured).
- **Per class, not per request**: FilterSets copy their filters shallowly and build their form class
  once; the product querysets are built once per process and copied per request; the category tree
  (slugs, parents) is remembered per catalog version, so `?category=` costs no query. A filtered list
  read again within a catalog version builds no FilterSet at all: each process keeps the queryset its
  parameters filtered to (`RememberedFilterBackend`), as it keeps its count and compiled pages, and
  starts from a copy (category list: 7.16M to 5.90M instructions, callgrind); invalid parameters are
  refused every time.
- **Prepared statements, plans kept where they do not depend on values**: psycopg 3 with server-side
  binding; a statement a connection has run twice is prepared, so PostgreSQL no longer parses it, and
  PostgreSQL keeps one plan for it where that costs no more than planning for its values
  (`plan_cache_mode=auto`): a product by id (the detail) or a keyset page is no longer planned at every
  run (+20% and +11%, interleaved A/B at 100k). The statements of lists and searches, whose best plan
  depends on their values, are sent unprepared, so they are planned for their values every time
  (`ecommerce_backend/postgresql/plans.py`): one plan kept for all had made lists filtered by rotating
  prices at 1M a seventh to a half as fast. That costs them a parse per run (search -4%). A keyset page
  compares rows, `(created_at, id) < (x, y)`, whose plan is the same wherever the anchor is; the anchor
  is written into the SQL as literals (quoted by psycopg), because with parameters PostgreSQL at 1M
  planned it again at every run, its plan for no anchor in particular looking dearer (page 2,500: 731-764
  to 273-332 µs of PostgreSQL CPU a request). A category
  filter writes its category ids into the SQL (ids of the category tree, never client input), so each
  category's list is a statement of its own, planned once for that category's size.
- Persistent connections with health checks that cost no round trip while a connection is sound: an
  idle connection the server ended has its error or end of stream waiting on the socket, and only then,
  or inside a transaction, does Django's `SELECT 1` run (`ecommerce_backend/postgresql`). Timestamps are
  read by psycopg's C loader, not Django's Python one (the same aware UTC datetimes).
- JSON written by orjson (the bytes DRF's renderer writes; a test compares them), and so is the JSON access-log
  line of every request (python-json-logger's OrjsonFormatter: a cache hit 1.124M to 1.069M instructions).
- `hiredis` for Redis replies, covering and partial indexes for each list ordering (`EXPLAIN`ed),
  `VACUUM ANALYZE` after a bulk seed.

## Machine

{machine}
{sections}"""


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--products", type=int, help="generated products (default: BENCH_PRODUCTS or 100000)")
    parser.add_argument("--rounds", type=int, help="rounds of every scenario (default 3)")
    parser.add_argument("--duration", type=int, help="seconds of each measurement (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of each warm-up, first round only (default 2)")
    parser.add_argument("--smoke", action="store_true", help="tiny seed, one short round: does the bench work?")
    parser.add_argument(
        "--keep-max-requests", action="store_true", help="keep gunicorn.conf.py's worker recycling (max_requests)"
    )
    parser.add_argument(
        "--only",
        help="comma-separated scenarios to measure (with the floor), for a quick look while working;\n"
        "prints the table and writes no results, chart or docs",
    )
    args = parser.parse_args(argv)
    only = frozenset(name.strip() for name in (args.only or "").split(",") if name.strip())
    if unknown := only - {s.name for s in SCENARIOS}:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.smoke:
        defaults = {"products": SMOKE_PRODUCTS, "rounds": 1, "duration": 2, "warmup": 0, "threads": 1, "conns": 4}
    else:
        products = int(os.environ.get("BENCH_PRODUCTS") or DEFAULT_PRODUCTS)
        defaults = {"products": products, "rounds": 3, "duration": 10, "warmup": 2, "threads": 2, "conns": 16}
    cfg = Settings(
        products=args.products if args.products is not None else defaults["products"],
        rounds=args.rounds or defaults["rounds"],
        duration=args.duration or defaults["duration"],
        warmup=args.warmup if args.warmup is not None else defaults["warmup"],
        threads=defaults["threads"],
        connections=defaults["conns"],
        smoke=args.smoke,
        max_requests=args.keep_max_requests,
        only=only,
    )
    if cfg.products < 1 or cfg.rounds < 1 or cfg.duration < 1 or cfg.warmup < 0:
        parser.error("--products, --rounds and --duration must be positive")
    return args, cfg


def main(argv: list[str] | None = None) -> int:
    _, cfg = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    out_dir = SMOKE_DIR if cfg.smoke else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    base = Database(os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL)
    db = base.with_name(f"{base.name}_smoke") if cfg.smoke else base
    host = urlsplit(db.url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise BenchError(f"the bench database must be on loopback, not {host!r}")
    secret_key = secrets.token_urlsafe(50)
    uncached_env = project_env(db, secret_key, response_cache=False)
    cached_env = project_env(db, secret_key, response_cache=True)
    logs = Path(tempfile.mkdtemp(prefix="ecommerce-bench-"))
    gunicorn_args = [] if cfg.max_requests else ["--max-requests", "0"]
    procs = Processes()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    say(
        f"Bench: {cfg.products:,} products, {cfg.rounds} round(s) of {cfg.duration} s, wrk -t{cfg.threads} "
        f"-c{cfg.connections}; database {db.name}; server logs in {logs}"
    )
    try:
        wrk = ensure_wrk(procs)
        seeded = prepare_database(db, cfg.products, procs, uncached_env)
        words = prepare_words(db, cfg.products, seeded, out_dir / "words-cache.json")
        words_files = {}
        for kind in ("rare", "common", "typo"):
            if not words[kind]:
                raise BenchError(f"no {kind} search words in the seeded data")
            words_files[kind] = logs / f"words-{kind}.txt"
            words_files[kind].write_text("\n".join(words[kind]) + "\n")

        flush_redis()
        servers = start_servers(procs, uncached_env, cached_env, logs, gunicorn_args)
        # While the servers start: the URLs of each scenario and the SQL queries of one request.
        paths, queries, found = find_urls(procs, uncached_env, cached_env, words)
        notes = list(words.get("warnings", []))
        if found["deep_page"] < DEEP_PAGE:
            notes.append(
                f"deep_page: {found['count']:,} listed products make {found['deep_page']} pages of {PAGE_SIZE}, "
                f"fewer than {DEEP_PAGE:,}; measured the last page, {found['deep_page']}"
            )
        for note in notes:
            say(f"WARNING: {note}")

        for server in servers.values():
            wait_until_up(server)
        statuses = {}
        for scenario in SCENARIOS:  # plain GETs: the answer is 200, and the cached server has the page
            if not scenario.words:
                statuses[scenario.name] = http_get(servers[scenario.server], paths[scenario.name])[0]
        for name, probed in queries.items():
            if probed.get("status") not in (None, 200):
                statuses[name] = probed["status"]
        say(f"Servers up (uncached :{servers['uncached'].port}, cached :{servers['cached'].port}, "
            f"floor :{servers['floor'].port}); measuring")  # fmt: skip
        runs = measure(procs, wrk, cfg, servers, paths, words_files)
        log_errors = {
            name: sum(1 for line in server.log.read_text(errors="replace").splitlines() if "Traceback" in line)
            for name, server in servers.items()
        }
    finally:
        procs.stop_all()

    for name, count in log_errors.items():
        if count:
            notes.append(f"the {name} server logged {count} tracebacks (see {logs / (name + '.log')})")
    summary = summarise(cfg, runs, paths, queries, statuses, words)
    elapsed = time.monotonic() - clock
    result = {
        "version": 1,
        "kind": "smoke" if cfg.smoke else "bench",
        "started_at": started_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "elapsed_s": round(elapsed, 1),
        "products": cfg.products,
        "active_products": words["active_products"],
        "listed_products": found["count"],
        "database": db.name,
        "seeded": seeded,
        "git_commit": git_commit(),
        "machine": {
            **machine_info(db),
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "rounds": cfg.rounds,
            "duration_s": cfg.duration,
            "warmup_s": cfg.warmup,
            "threads": cfg.threads,
            "connections": cfg.connections,
            "wrk_timeout": WRK_TIMEOUT,
            "gunicorn": f"-c gunicorn.conf.py --workers {WORKERS} {' '.join(gunicorn_args)}".strip(),
            "redis": REDIS_URL,
        },
        "words": {
            kind: {"count": len(words[kind]), "sample": words[kind][:5], "ndoc": words["ndoc"].get(kind)}
            for kind in ("rare", "common", "typo")
        },
        "word_bands": words["bands"],
        "warnings": notes,
        "summary": summary,
    }
    result["table"] = text_table(summary)
    if cfg.only:
        say(result["table"])
        say(f"Took {elapsed:.0f} s (--only: nothing written)")
        return 0

    name = f"{stamp}-{cfg.products}"
    json_path, png_path = out_dir / f"{name}.json", out_dir / f"{name}.png"
    json_path.write_text(json.dumps(result, indent=1) + "\n")
    charted = write_chart(result, png_path)
    if not cfg.smoke:
        write_docs()

    say("")
    say(
        f"{cfg.products:,} products, median of {cfg.rounds} round(s) of {cfg.duration} s; ratio = req/s / floor req/s; "
        f"targets of the {summary['targets_column']} column" + (" (not meant for the smoke seed)" if cfg.smoke else "")
    )
    say(result["table"])
    for note in notes + [f"{r['scenario']}: {n}" for r in summary["rows"] for n in r["notes"]]:
        say(f"note: {note}")
    say("")
    say(f"Results: {json_path}" + (f" and {png_path}" if charted else ""))
    if not cfg.smoke:
        say(f"Rewrote {DOCS_FILE.relative_to(ROOT)}")
    say(f"Took {elapsed:.0f} s")
    bad = [r["scenario"] for r in summary["rows"] if r["result"] in ("FAILED", "MISSING")]
    if bad:
        say(f"FAILED or missing: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted; every process the bench started has been stopped.\n")
        sys.exit(130)
    except Stopped as stop:
        sys.stderr.write(f"\nStopped by {stop}; every process the bench started has been stopped.\n")
        sys.exit(128 + stop.signum)
    except BenchError as error:
        sys.stderr.write(f"bench: {error}\n")
        sys.exit(2)
