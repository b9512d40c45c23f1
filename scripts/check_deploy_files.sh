#!/usr/bin/env bash
# Checks of the deploy files that need no Docker engine (`make deploy-check`, run by .ci/run):
#   1. yamllint on docker-compose.yml, .github/workflows/ci.yml and .yamllint.yml;
#   2. docker-compose.yml against the Compose specification's schema and the workflow against
#      GitHub's workflow schema (check-jsonschema's bundled copies: no network);
#   3. `docker compose config -q` where the Compose plugin exists (it needs no daemon); skipped
#      with a note elsewhere;
#   4. the Dockerfile, .dockerignore and the compose file's wiring, by a small Python check
#      (hadolint is not available here).
# Nothing is built or run. Exits non-zero when any check fails.
set -uo pipefail
cd "$(dirname "$0")/.."

BIN="${VENV_BIN:-.venv/bin}"
status=0
step() { printf '\n--> %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; status=1; }

YAML_FILES=(docker-compose.yml .github/workflows/ci.yml .yamllint.yml)
for file in Dockerfile .dockerignore "${YAML_FILES[@]}"; do
    [ -f "$file" ] || fail "$file is missing"
done
[ "$status" -eq 0 ] || exit "$status"

step "yamllint ${YAML_FILES[*]}"
if [ -x "$BIN/yamllint" ]; then
    "$BIN/yamllint" --strict -c .yamllint.yml "${YAML_FILES[@]}" && echo "ok" || fail "yamllint"
else
    fail "$BIN/yamllint not found: install requirements-checks.txt (make deploy-check does)"
fi

step "Schemas: compose-spec (docker-compose.yml), github-workflows (ci.yml)"
if [ -x "$BIN/check-jsonschema" ]; then
    "$BIN/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml || fail "compose-spec schema"
    "$BIN/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/ci.yml \
        || fail "github-workflows schema"
else
    fail "$BIN/check-jsonschema not found: install requirements-checks.txt (make deploy-check does)"
fi

step "docker compose config"
if docker compose version >/dev/null 2>&1; then
    # SECRET_KEY is required by the file (${SECRET_KEY:?...}); any value does for the check.
    SECRET_KEY="${SECRET_KEY:-compose-config-check-only}" docker compose -f docker-compose.yml config -q \
        && echo "ok" || fail "docker compose config"
else
    echo "note: skipped, the Docker Compose plugin is not installed here (\`docker compose version\` fails)."
    echo "      The schema check above and the wiring check below still run."
fi

step "Dockerfile, .dockerignore and compose wiring"
"$BIN/python" - <<'PY' || fail "Dockerfile/.dockerignore/compose checks"
import json
import re
import shlex
import sys
from pathlib import Path

import yaml

problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


# --- Dockerfile: instructions, continuation lines joined, comments dropped --------------------
instructions = []  # (stage index, KEYWORD, arguments)
stage = -1
pending = ""
for raw in Path("Dockerfile").read_text().splitlines():
    line = raw.strip()
    if not pending and (not line or line.startswith("#")):
        continue
    if pending and line.startswith("#"):
        continue
    if line.endswith("\\"):
        pending += line[:-1] + " "
        continue
    line, pending = pending + line, ""
    keyword, _, args = line.partition(" ")
    keyword = keyword.upper()
    if keyword == "FROM":
        stage += 1
    instructions.append((stage, keyword, args.strip()))
check(not pending, "Dockerfile ends with a line continuation")

args_defaults = {}
for s, keyword, args in instructions:
    if keyword == "ARG" and s == -1 and "=" in args:
        name, _, value = args.partition("=")
        args_defaults[name.strip()] = value.strip()


def expand(text):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args_defaults.get(m.group(1) or m.group(2), m.group(0)), text)


froms = [(s, expand(args)) for s, keyword, args in instructions if keyword == "FROM"]
check(len(froms) >= 2, f"Dockerfile: expected a build and a runtime stage, found {len(froms)} FROM")
if len(froms) >= 2:
    images = [args.split()[0] for _, args in froms]
    for image in images:
        check(":" in image and not image.endswith(":latest"), f"Dockerfile: base image {image!r} needs a pinned tag")
        check(image.startswith("python:3.11-slim"), f"Dockerfile: base image {image!r} is not python:3.11-slim*")
    check(len(set(images)) == 1, f"Dockerfile: build and runtime stages differ in base image: {images}")
    check(re.search(r"\bAS\s+build\b", froms[0][1], re.I) is not None, "Dockerfile: the first stage is not `AS build`")

last = max(s for s, _, _ in instructions)
final = [(keyword, args) for s, keyword, args in instructions if s == last]
build = [(keyword, args) for s, keyword, args in instructions if s == 0]


def final_has(keyword, pattern=""):
    return any(k == keyword and re.search(pattern, a) for k, a in final)


check(any(k == "RUN" and "pip wheel" in a and "/wheels" in a for k, a in build),
      "Dockerfile: the build stage does not `pip wheel` into /wheels")
check(final_has("RUN", r"pip install .*--no-index"), "Dockerfile: the runtime stage must install the wheels offline")
check(not final_has("RUN", r"apt-get install[^&]*\b(build-essential|gcc|g\+\+|clang)\b"),
      "Dockerfile: a compiler is installed in the runtime stage")
check(final_has("RUN", r"manage\.py collectstatic .*--noinput"), "Dockerfile: no collectstatic in the runtime stage")
collect = next((a for k, a in final if k == "RUN" and "collectstatic" in a), "")
check("DEBUG=false" in collect and "SECRET_KEY=" in collect,
      "Dockerfile: collectstatic should run with DEBUG=false and a throwaway SECRET_KEY on its own line")
check(re.search(r"chmod -R a\+rX /app/staticfiles", collect) is not None,
      "Dockerfile: collected static files must be made readable (FILE_UPLOAD_PERMISSIONS is 0640): chmod -R a+rX")
check(not final_has("ENV", r"SECRET_KEY"), "Dockerfile: SECRET_KEY must not be baked into the image (ENV)")
check(not any(k == "ADD" and re.search(r"https?://", a) for _, k, a in instructions), "Dockerfile: ADD of a URL")
for name, value in {"WHITENOISE_USE_FINDERS": "false", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}.items():
    check(final_has("ENV", rf"\b{name}={value}\b"), f"Dockerfile: runtime ENV lacks {name}={value}")
check(final_has("EXPOSE", r"\b8000\b"), "Dockerfile: EXPOSE 8000 missing")
check(final_has("RUN", r"useradd .*--uid 10001 .*\bapp\b"), "Dockerfile: no user `app` with uid 10001")
check(final_has("RUN", r"chown app:app /app/media"), "Dockerfile: /app/media is not owned by app")

users = [i for i, (k, _) in enumerate(final) if k == "USER"]
check(bool(users), "Dockerfile: no USER in the runtime stage")
if users:
    user = final[users[-1]][1].split(":")[0]
    check(user not in ("root", "0"), f"Dockerfile: USER {user} runs as root")
    check(user in ("app", "10001"), f"Dockerfile: USER is {user!r}, expected app")
    runs_after = [a for k, a in final[users[-1]:] if k == "RUN"]
    check(not runs_after, "Dockerfile: RUN after USER app (build steps should run as root, before it)")

healthchecks = [a for k, a in final if k == "HEALTHCHECK"]
check(len(healthchecks) == 1, "Dockerfile: expected one HEALTHCHECK in the runtime stage")
if healthchecks:
    hc = healthchecks[0]
    check("/api/v1/health/" in hc, "Dockerfile: HEALTHCHECK does not call /api/v1/health/")
    check("curl" not in hc and "wget" not in hc, "Dockerfile: HEALTHCHECK uses curl/wget (not in the slim image)")
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", hc)
    check(match is not None, "Dockerfile: HEALTHCHECK CMD should be in exec (JSON) form")
    if match:
        try:
            argv = json.loads(match.group(1))
            check(argv[:2] == ["python", "-c"], "Dockerfile: HEALTHCHECK should run python -c")
            compile(argv[2], "HEALTHCHECK", "exec")
        except (ValueError, SyntaxError, IndexError) as error:
            problems.append(f"Dockerfile: HEALTHCHECK command does not parse: {error}")

cmds = [a for k, a in final if k == "CMD"]
check(len(cmds) == 1, "Dockerfile: expected one CMD in the runtime stage")
if cmds:
    try:
        cmd = json.loads(cmds[0])
        check(cmd == ["gunicorn", "-c", "gunicorn.conf.py", "ecommerce_backend.wsgi"],
              f"Dockerfile: CMD is {cmd}, expected gunicorn -c gunicorn.conf.py ecommerce_backend.wsgi")
    except ValueError:
        problems.append("Dockerfile: CMD is not in exec (JSON) form")
for path in ("gunicorn.conf.py", "requirements.txt", "manage.py", "ecommerce_backend/wsgi.py"):
    check(Path(path).is_file(), f"Dockerfile needs {path}, which is missing")

# --- .dockerignore ------------------------------------------------------------------------------
ignored = {line.strip() for line in Path(".dockerignore").read_text().splitlines()
           if line.strip() and not line.startswith("#")}
for pattern in (".env", ".venv", ".git", "**/__pycache__", "**/*.sqlite3", "media/*", "staticfiles", "bench/results"):
    check(pattern in ignored, f".dockerignore: {pattern} is not excluded")
for needed in ("requirements.txt", "gunicorn.conf.py", "manage.py", "app", "ecommerce_backend", "static", "templates"):
    check(needed not in ignored, f".dockerignore excludes {needed}, which the image needs")

# --- docker-compose.yml: the wiring `docker compose config` cannot judge ------------------------
compose = yaml.safe_load(Path("docker-compose.yml").read_text())  # resolves the << merge keys
services = compose.get("services", {})
for name in ("db", "redis", "migrate", "web", "worker"):
    check(name in services, f"compose: service {name} missing")
declared_volumes = set(compose.get("volumes") or {})
for name, service in services.items():
    for volume in service.get("volumes", []):
        source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if source and not source.startswith((".", "/", "$")):
            check(source in declared_volumes, f"compose: {name} uses volume {source}, not declared at the top level")
    for dependency in service.get("depends_on", {}):
        check(dependency in services, f"compose: {name} depends on unknown service {dependency}")
    if name != "migrate":
        check(service.get("restart") == "unless-stopped", f"compose: {name} should restart unless-stopped")
        hc = service.get("healthcheck") or {}
        check(bool(hc.get("test")) and not hc.get("disable"), f"compose: {name} has no healthcheck")
if {"db", "redis", "migrate", "web", "worker"} <= set(services):
    check(services["db"]["image"].startswith("postgres:16"), "compose: db is not postgres:16")
    check(services["redis"]["image"].startswith("redis:7"), "compose: redis is not redis:7")
    check("pgdata:/var/lib/postgresql/data" in services["db"].get("volumes", []), "compose: db has no named volume")
    check(str(services["migrate"].get("restart")) == "no", "compose: migrate must not restart")
    migrate_command = " ".join(services["migrate"].get("command", []))
    check("migrate --noinput" in migrate_command and "seed_demo" in migrate_command,
          "compose: migrate should run migrate --noinput and seed_demo")
    wanted = {"db": "service_healthy", "redis": "service_healthy", "migrate": "service_completed_successfully"}
    for name in ("web", "worker"):
        depends = {k: (v or {}).get("condition") for k, v in services[name].get("depends_on", {}).items()}
        check(depends == wanted, f"compose: {name} depends_on is {depends}, expected {wanted}")
        check("media:/app/media" in services[name].get("volumes", []), f"compose: {name} does not mount media")
        env = services[name].get("environment", {})
        check(env.get("DEBUG") == "false", f"compose: {name} should run with DEBUG=false")
        check(str(env.get("SECRET_KEY", "")).startswith("${SECRET_KEY:?"), f"compose: {name} SECRET_KEY must be required")
        check("@db:5432/" in str(env.get("DATABASE_URL")), f"compose: {name} DATABASE_URL does not point at db")
        for key in ("REDIS_URL", "CELERY_BROKER_URL"):
            check(str(env.get(key, "")).startswith("redis://redis:6379/"), f"compose: {name} {key} not on redis")
    check("8000:8000" in [str(p) for p in services["web"].get("ports", [])], "compose: web does not publish 8000")
    worker_command = services["worker"].get("command", [])
    worker_command = worker_command if isinstance(worker_command, list) else shlex.split(worker_command)
    check(worker_command[:4] == ["celery", "-A", "ecommerce_backend", "worker"] and "--beat" in worker_command,
          "compose: worker should run celery -A ecommerce_backend worker --beat")
    web_test = services["web"].get("healthcheck", {}).get("test", [])
    if web_test[:3] == ["CMD", "python", "-c"]:
        try:
            compile(web_test[3], "web healthcheck", "exec")
        except SyntaxError as error:
            problems.append(f"compose: web healthcheck does not parse: {error}")

# --- the workflow runs .ci/run with both services ----------------------------------------------
workflow = yaml.safe_load(Path(".github/workflows/ci.yml").read_text())
on = workflow.get("on", workflow.get(True))  # PyYAML reads a bare `on` key as True
check(isinstance(on, dict) and {"push", "pull_request"} <= set(on), "ci.yml: must run on push and pull_request")
for job in workflow.get("jobs", {}).values():
    check(set(job.get("services", {})) >= {"postgres", "redis"}, "ci.yml: postgres and redis services expected")
    check(any("bash .ci/run" in str(step.get("run", "")) for step in job.get("steps", [])), "ci.yml: no `bash .ci/run` step")

for problem in problems:
    print("  -", problem, file=sys.stderr)
print("ok" if not problems else f"{len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY

echo
if [ "$status" -eq 0 ]; then echo "Deploy files: all checks passed."; else echo "Deploy files: checks FAILED." >&2; fi
exit "$status"
