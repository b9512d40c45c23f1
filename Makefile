# The two commands: `make run` (serve the API with demo data) and `make test`.
# Everything else is listed by `make help`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PG_URL ?= postgres://postgres@127.0.0.1:5432/ecommerce
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test test-postgres lint fmt check migrate seed superuser clean contract-test browser-test \
	worker worker-test reliability-test bench bench-smoke deploy-check

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

$(VENV)/.bench: requirements.txt requirements-dev.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	@touch $@ $(VENV)/.dev $(VENV)/.runtime

$(VENV)/.checks: requirements.txt requirements-dev.txt requirements-checks.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-checks.txt
	@touch $@ $(VENV)/.dev $(VENV)/.runtime

.env:
	cp .env.example .env
	@echo "Created .env from .env.example (DEBUG=true, SQLite, no Redis)."

migrate: $(VENV)/.runtime .env ## Apply database migrations
	$(MANAGE) migrate --noinput

seed: migrate ## Load demo data (idempotent)
	$(MANAGE) seed_demo

run: seed ## Set up everything and serve the API with demo data on http://127.0.0.1:8000
	@echo "API: http://$(HOST):$(PORT)/api/v1/   Swagger: http://$(HOST):$(PORT)/swagger/   Admin: http://$(HOST):$(PORT)/admin/"
	$(MANAGE) runserver $(HOST):$(PORT)

test: $(VENV)/.dev ## Run the whole test suite on SQLite
	$(BIN)/pytest -q

test-postgres: $(VENV)/.dev ## Run the whole test suite on PostgreSQL (PG_URL=postgres://...)
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -q

worker: $(VENV)/.runtime .env ## Run a Celery worker with beat (needs CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/1)
	$(BIN)/celery -A ecommerce_backend worker --beat --loglevel INFO

worker-test: $(VENV)/.dev ## A real worker on Redis (BROKER_URL, default redis://127.0.0.1:6379/15) makes thumbnails
	$(BIN)/python scripts/live_server.py --port 8767 --worker $(or $(BROKER_URL),redis://127.0.0.1:6379/15) -- \
		$(BIN)/pytest -c worker_tests/pytest.ini --rootdir worker_tests worker_tests -q

bench: $(VENV)/.bench ## Benchmark against the floor on PostgreSQL: 100k products (BENCH_PRODUCTS=1000000 for 1M)
	$(BIN)/python scripts/bench/run.py

bench-smoke: $(VENV)/.bench ## The benchmark on 2,000 products, one 2 s round: does it work? (< 1 min)
	$(BIN)/python scripts/bench/run.py --smoke

reliability-test: $(VENV)/.dev ## Real outages: PostgreSQL cut and back, Redis killed, two processes sharing one limit
	$(BIN)/pytest -c reliability_tests/pytest.ini --rootdir reliability_tests reliability_tests -q

contract-test: $(VENV)/.checks ## schemathesis: the live API against its own schema (seller, admin, anonymous)
	$(BIN)/python scripts/live_server.py --port 8766 -- bash scripts/contract_test.sh

browser-test: $(VENV)/.checks ## Swagger UI, ReDoc and CORS in Debian's Chromium (installs it if missing)
	bash scripts/browser_test.sh

lint: $(VENV)/.dev ## Check style with ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

deploy-check: $(VENV)/.checks ## Lint the deploy files: Dockerfile, docker-compose.yml, GitHub workflow (no Docker engine needed)
	bash scripts/check_deploy_files.sh

fmt: $(VENV)/.dev ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: $(VENV)/.dev ## Django system checks and a migrations-up-to-date check
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run

superuser: migrate ## Create an admin (asks, or uses DJANGO_SUPERUSER_* variables)
	$(MANAGE) createsuperuser $(if $(DJANGO_SUPERUSER_PASSWORD),--noinput,)

clean: ## Remove the virtualenv, caches and the SQLite database
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles db.sqlite3 test.sqlite3
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
