"""Schemathesis hooks for scripts/contract_test.sh (loaded through SCHEMATHESIS_HOOKS).

Two guards that keep a pass meaningful while it runs destructive operations with real tokens.
Nothing here changes what is checked or which responses count as failures.

* Session pass (CT_SESSION_PASS=1): POST /auth/logout/ and POST /auth/password/change/ end the
  session they are called with. Every generated test case of these two operations gets a session of
  its own: a throwaway user registered through POST /auth/register/ just for that case. Every other
  positive test case sends that session's real refresh token / current password (and a strong new
  password), so the success path and its response schema are exercised too; the remaining positive
  cases keep the generated values (wrong token / wrong password paths), negative cases are untouched.

* Admin pass (CT_PROTECTED_USER_IDS, CT_DECOY_USER_ID): PUT/PATCH/DELETE /users/{id}/ aimed at the
  account whose token the pass uses (an admin may demote or deactivate itself through PATCH) are
  sent to a decoy account instead, so the admin token stays valid for the rest of the pass. Every
  redirected call is counted and reported at the end of the run.
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
import sys
import uuid

import requests
import schemathesis

SESSION_PATHS = ("/auth/logout/", "/auth/password/change/")
USER_WRITE_METHODS = {"PUT", "PATCH", "DELETE"}

_sessions: dict[str, dict[str, str]] = {}  # access token -> {"refresh": ..., "password": ...}
_alternate = itertools.count()
_redirected: list[str] = []


def _api() -> str:
    return os.environ["API_URL"].rstrip("/") + "/api/v1"


def _norm_uuid(value) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except (TypeError, ValueError, AttributeError):
        return None


if os.environ.get("CT_SESSION_PASS") == "1":

    @schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(path=list(SESSION_PATHS))
    class FreshSession:
        """A brand-new user and token pair for every test case."""

        def get(self, case, ctx):
            tag = secrets.token_hex(6)
            password = "Ct-" + secrets.token_urlsafe(18)
            response = requests.post(
                f"{_api()}/auth/register/",
                json={"email": f"ct-session-{tag}@example.com", "username": f"ct_session_{tag}", "password": password},
                timeout=30,
            )
            response.raise_for_status()
            tokens = response.json()["data"]["tokens"]
            _sessions[tokens["access"]] = {"refresh": tokens["refresh"], "password": password}
            return tokens["access"]

        def set(self, case, data, ctx):
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"


def _is_positive(case) -> bool:
    meta = getattr(case, "meta", None) or getattr(case, "_meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    return str(getattr(mode, "value", mode)) == "positive"


@schemathesis.hook
def before_call(context, case, kwargs):
    method = case.method.upper()
    path = case.operation.path

    # Session pass: make every other positive case a valid request for its own session.
    if path in SESSION_PATHS and os.environ.get("CT_SESSION_PASS") == "1":
        auth = (case.headers or {}).get("Authorization", "")
        session = _sessions.get(auth.removeprefix("Bearer ").strip())
        if session and _is_positive(case) and isinstance(case.body, dict) and next(_alternate) % 2 == 0:
            if path == "/auth/logout/" and isinstance(case.body.get("refresh"), str):
                case.body["refresh"] = session["refresh"]
            elif path == "/auth/password/change/" and isinstance(case.body.get("old_password"), str):
                case.body["old_password"] = session["password"]
                case.body["new_password"] = "Ct-new-" + secrets.token_urlsafe(18)

    # Admin pass: never let the pass demote, deactivate or delete its own account.
    protected = {_norm_uuid(v) for v in os.environ.get("CT_PROTECTED_USER_IDS", "").split(",") if v.strip()}
    decoy = os.environ.get("CT_DECOY_USER_ID")
    if protected and decoy and path == "/users/{id}/" and method in USER_WRITE_METHODS:
        target = _norm_uuid(case.path_parameters.get("id"))
        if target is not None and target in protected:
            _redirected.append(f"{method} /users/{case.path_parameters.get('id')}/")
            case.path_parameters["id"] = decoy


@atexit.register
def _report() -> None:
    if _redirected:
        sys.stderr.write(
            f"\n[contract hooks] {len(_redirected)} write(s) to the pass's own account were sent to the decoy "
            f"user {os.environ.get('CT_DECOY_USER_ID')} instead: {sorted(set(_redirected))}\n"
        )
    if os.environ.get("CT_SESSION_PASS") == "1":
        sys.stderr.write(f"\n[contract hooks] {len(_sessions)} throwaway session(s) registered for the session pass\n")


# A 204 has no body, so it has no content type: Django (rightly) sends none. Swagger 2 cannot say
# that per response (its `produces` is per operation and falls back to the global
# application/json), so schemathesis' content_type_conformance flags every 204. This check is
# that one, minus exactly that case: a 204 with an empty body. Everything else it checks as before.
@schemathesis.check
def content_type_conformance_except_empty_204(ctx, response, case):
    from schemathesis.specs.openapi.checks import content_type_conformance

    if response.status_code == 204 and not response.content:
        return None
    return content_type_conformance(ctx, response, case)
