#!/usr/bin/env bash
# Contract test: schemathesis 4.x against the live API, checked against its own Swagger schema.
#
#     .venv/bin/python scripts/live_server.py --port 8766 -- bash scripts/contract_test.sh
#
# Needs API_URL, SELLER_TOKEN and ADMIN_TOKEN in the environment (live_server.py sets them).
# Every operation of $API_URL/swagger.json is run with the checks not_a_server_error,
# status_code_conformance, content_type_conformance and response_schema_conformance, in four passes:
#
#   1. anonymous  all operations, no credentials (nothing an anonymous caller does can end a session)
#   2. seller     all operations with SELLER_TOKEN, except the two that end the caller's session
#   3. admin      all operations with ADMIN_TOKEN, except the same two; PUT/PATCH/DELETE
#                 /users/{id}/ aimed at the admin itself go to a decoy user registered here, so the
#                 admin cannot demote or deactivate itself halfway through the pass
#   4. session    POST /auth/logout/ and POST /auth/password/change/, each test case with a fresh
#                 user and token pair of its own (scripts/contract/hooks.py)
#
# The admin pass is the last one with a long-lived token, so deletions and deactivations by the
# admin cannot starve the other passes. After each pass the token it used is checked again: a token
# that died during its pass makes the script fail, since the rest of that pass then proved nothing.
#
# Exits non-zero when any pass reports a failure (or a token died). Knobs (environment):
#   CONTRACT_MAX_EXAMPLES (25)  CONTRACT_WORKERS (2)
#   CONTRACT_DETERMINISTIC (1): schemathesis' deterministic generation, the same cases on every run
#                       (schemathesis then ignores the seed); 0: random generation from CONTRACT_SEED
#   CONTRACT_SEED (20260501)
#   CONTRACT_REPORT_DIR (a new temporary directory): the schema as tested (swagger.json), per pass
#                       schemathesis' full output and NDJSON/JUnit reports, the grouped summary.txt
#   CONTRACT_VERBOSE=1: stream schemathesis' full output instead of each pass's summary only
set -euo pipefail

: "${API_URL:?run through scripts/live_server.py (API_URL is not set)}"
: "${SELLER_TOKEN:?SELLER_TOKEN is not set}"
: "${ADMIN_TOKEN:?ADMIN_TOKEN is not set}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ST="$ROOT/.venv/bin/schemathesis"
PY="$ROOT/.venv/bin/python"
CONFIG="$ROOT/scripts/contract/schemathesis.toml"
HOOKS="$ROOT/scripts/contract/hooks.py"
export SCHEMATHESIS_HOOKS="$HOOKS"  # the custom check and the guards below
API="${API_URL%/}/api/v1"
SCHEMA="${API_URL%/}/swagger.json"
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance_except_empty_204,response_schema_conformance"
MAX_EXAMPLES="${CONTRACT_MAX_EXAMPLES:-25}"
SEED="${CONTRACT_SEED:-20260501}"
WORKERS="${CONTRACT_WORKERS:-2}"
DETERMINISTIC=()
if [[ "${CONTRACT_DETERMINISTIC:-1}" == 1 ]]; then DETERMINISTIC=(--generation-deterministic); fi
OUT="${CONTRACT_REPORT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/contract-test.XXXXXX")}"
mkdir -p "$OUT"
SKIP_SESSION_ENDERS=(--exclude-path /auth/logout/ --exclude-path /auth/password/change/)

started=$SECONDS
status=0
passes=()

# GET /auth/profile/ with a token: prints "<id> <role>", or fails.
whoami() {
    local body
    body="$(curl -fsS -H "Authorization: Bearer $1" "$API/auth/profile/")" || return 1
    "$PY" -c 'import json, sys; d = json.load(sys.stdin)["data"]; print(d["id"], d["role"])' <<<"$body"
}

# Registers a throwaway user; prints its id.
register_user() {
    local tag
    tag="$("$PY" -c 'import secrets; print(secrets.token_hex(6))')"
    curl -fsS -H 'Content-Type: application/json' \
        -d "{\"email\": \"ct-$1-$tag@example.com\", \"username\": \"ct_$1_$tag\", \"password\": \"Ct-$tag-$tag-pass\"}" \
        "$API/auth/register/" |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["data"]["user"]["id"])'
}

# run_pass NAME [schemathesis options...]: one schemathesis run; its status is recorded, not fatal.
run_pass() {
    local name="$1"; shift
    local dir="$OUT/$name" rc=0 t0=$SECONDS
    mkdir -p "$dir"
    echo
    echo "=== pass '$name' ($(date -u +%H:%M:%S)) ==="
    # Run from the report directory: schemathesis and Hypothesis write their working files to the cwd.
    (
        cd "$dir"
        export HYPOTHESIS_STORAGE_DIRECTORY="$dir/.hypothesis"
        "$ST" --config-file "$CONFIG" run "$SCHEMA" \
            --url "$API" \
            --checks "$CHECKS" \
            --max-examples "$MAX_EXAMPLES" \
            --seed "$SEED" \
            "${DETERMINISTIC[@]}" \
            --workers "$WORKERS" \
            --request-timeout 30 \
            --no-color \
            --report ndjson,junit --report-dir "$dir" \
            "$@"
    ) >"$dir/output.txt" 2>&1 || rc=$?
    if [[ "${CONTRACT_VERBOSE:-0}" == 1 ]]; then
        cat "$dir/output.txt"
    else
        # The summary block (and anything schemathesis printed after it, e.g. the hooks' notes).
        sed -n '/^=* \(WARNINGS\|SUMMARY\) =*$/,$p' "$dir/output.txt"
        grep -q ' SUMMARY ' "$dir/output.txt" || tail -n 40 "$dir/output.txt"
    fi
    echo "--- pass '$name': exit $rc in $((SECONDS - t0))s; full output $dir/output.txt"
    passes+=("$name=$dir")
    if ((rc != 0)); then status=1; fi
}

# check_token NAME TOKEN ROLE: the token a pass used must still be valid and keep its role.
check_token() {
    local who
    if ! who="$(whoami "$2")" || [[ "${who#* }" != "$3" ]]; then
        echo "!!! the $1 token no longer works with role $3 after its pass (${who:-rejected}): the end of the" \
            "'$1' pass ran without valid credentials and proved nothing" >&2
        status=1
    fi
}

echo "contract test: $SCHEMA, checks $CHECKS"
echo "max examples $MAX_EXAMPLES per operation, seed $SEED, ${DETERMINISTIC[*]:-random generation}, $WORKERS workers"
echo "reports in $OUT"
curl -fsS "$SCHEMA" -o "$OUT/swagger.json" || echo "(could not save the schema)"

read -r seller_id seller_role <<<"$(whoami "$SELLER_TOKEN")"
read -r admin_id admin_role <<<"$(whoami "$ADMIN_TOKEN")"
[[ "$seller_role" == seller && "$admin_role" == admin ]] || {
    echo "SELLER_TOKEN/ADMIN_TOKEN do not belong to a seller/an admin ($seller_role/$admin_role)" >&2
    exit 2
}
decoy_id="$(register_user decoy)"
echo "seller $seller_id, admin $admin_id, decoy user for the admin pass $decoy_id"

run_pass anonymous

echo "(pass 'seller' leaves out POST /auth/logout/ and POST /auth/password/change/: pass 'session' runs them)"
run_pass seller -H "Authorization: Bearer $SELLER_TOKEN" "${SKIP_SESSION_ENDERS[@]}"
check_token seller "$SELLER_TOKEN" seller

echo "(pass 'admin' leaves out POST /auth/logout/ and POST /auth/password/change/: pass 'session' runs them)"
SCHEMATHESIS_HOOKS="$HOOKS" CT_PROTECTED_USER_IDS="$admin_id" CT_DECOY_USER_ID="$decoy_id" \
    run_pass admin -H "Authorization: Bearer $ADMIN_TOKEN" "${SKIP_SESSION_ENDERS[@]}"
check_token admin "$ADMIN_TOKEN" admin

SCHEMATHESIS_HOOKS="$HOOKS" CT_SESSION_PASS=1 \
    run_pass session --include-path /auth/logout/ --include-path /auth/password/change/

"$PY" "$ROOT/scripts/contract/summarize.py" "${passes[@]}" | tee "$OUT/summary.txt"

echo
echo "contract test finished in $((SECONDS - started))s: $([[ $status == 0 ]] && echo PASSED || echo FAILED)" \
    "(reports in $OUT)"
exit "$status"
