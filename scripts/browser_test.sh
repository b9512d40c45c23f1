#!/usr/bin/env bash
# Browser checks (Swagger UI, ReDoc, CORS) in Debian's Chromium against a live API.
# Assumes .venv exists with requirements-checks.txt installed (`make browser-test` sees to it).
# Never downloads a browser through Playwright: it drives /usr/bin/chromium.
set -euo pipefail

cd "$(dirname "$0")/.."

CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
export CHROMIUM_PATH
if [ ! -x "$CHROMIUM_PATH" ]; then
    echo "Installing Debian's chromium..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium
fi

exec .venv/bin/python scripts/live_server.py --port "${BROWSER_TEST_PORT:-8765}" -- \
    .venv/bin/pytest -p no:django -p no:env -p no:cacheprovider \
    -c browser_tests/pytest.ini --rootdir browser_tests browser_tests -q "$@"
