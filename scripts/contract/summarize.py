#!/usr/bin/env python
"""Group the failures of the contract-test passes by cause, from schemathesis' NDJSON reports.

    python scripts/contract/summarize.py PASS=REPORT_DIR [PASS=REPORT_DIR ...]

Prints, for every pass, the failing check codes; then every distinct (check, operation, detail)
with the passes and number of test cases it occurred in; then every 5xx with a curl command that
reproduces it (the bearer token is shown as the variable the pass used). Exit status 0.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import sys
from collections import Counter, defaultdict
from pathlib import Path

# What stood in the Authorization header schemathesis filtered out of its reports, per pass.
AUTH_VARS = {
    "seller": "Bearer $SELLER_TOKEN",
    "admin": "Bearer $ADMIN_TOKEN",
    "session": "Bearer $FRESH_ACCESS_TOKEN",
    "anonymous": "<a value schemathesis generated>",
}


def _decode(blob) -> bytes | None:
    if not blob:
        return None
    if isinstance(blob, dict) and "$base64" in blob:
        return base64.b64decode(blob["$base64"])
    if isinstance(blob, dict) and "string" in blob:
        return blob["string"].encode()
    if isinstance(blob, str):
        return blob.encode()
    return None


def _curl(request: dict, pass_name: str) -> str:
    parts = ["curl", "-i", "-X", request["method"]]
    for name, values in (request.get("headers") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            if name.lower() == "authorization" and value == "[Filtered]":
                value = AUTH_VARS.get(pass_name, "Bearer $TOKEN")
                parts += ["-H", f'"{name}: {value}"']
                continue
            if name.lower() in {"user-agent", "accept-encoding", "connection", "content-length"}:
                continue
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = _decode(request.get("body"))
    if body is not None:
        try:
            parts += ["--data-binary", shlex.quote(body.decode("utf-8"))]
        except UnicodeDecodeError:
            parts += ["--data-binary", f"@<(printf %s {shlex.quote(body.hex())} | xxd -r -p)"]
    parts.append(shlex.quote(request["uri"]))
    return " ".join(parts)


def _detail(failure: dict, status: int | None) -> str:
    message = (failure.get("message") or "").strip()
    code = failure.get("code")
    if code == "ST103":  # undocumented status: "Received: 401\nDocumented: 200"
        documented = next(
            (ln.split(":", 1)[1].strip() for ln in message.splitlines() if ln.startswith("Documented")), "?"
        )
        return f"received {status}, documented {documented}"
    if code == "ST108":  # schema violation: the violated keyword, without the offending value, and where
        first = message.splitlines()[0] if message else ""
        first = re.sub(r"^[{\[].* (is (not|too|a|an|valid|shorter|longer|less|greater)\b)", r"<value> \1", first)
        where = next(
            (ln[len("Schema at ") :].rstrip(":") for ln in message.splitlines() if ln.startswith("Schema at ")), ""
        )
        return f"status {status}: {first[:120]}" + (f" (schema at {where})" if where else "")
    first = message.splitlines()[0] if message else failure.get("title", "")
    return f"status {status}: {first[:160]}"


def load(pass_name: str, directory: Path):
    failures = []  # (code, title, operation, detail, signature, request, status)
    errors = []
    reports = sorted(directory.glob("*.ndjson"))
    if not reports:
        errors.append(f"no NDJSON report in {directory}: schemathesis did not run to the end, see output.txt there")
    for path in reports:
        for line in path.read_text().splitlines():
            event = json.loads(line)
            kind, payload = next(iter(event.items()))
            if kind == "NonFatalError":
                errors.append(json.dumps(payload)[:400])
                continue
            if kind != "ScenarioFinished":
                continue
            recorder = payload.get("recorder") or {}
            interactions = recorder.get("interactions") or {}
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    interaction = interactions.get(case_id) or {}
                    request = interaction.get("request") or {}
                    status = (interaction.get("response") or {}).get("status_code")
                    signature = (request.get("method"), request.get("uri"), json.dumps(request.get("body")))
                    failures.append(
                        (
                            failure.get("code", check.get("name")),
                            failure.get("title", check.get("name")),
                            failure.get("operation", recorder.get("label", "?")),
                            _detail(failure, status),
                            signature,
                            request,
                            status,
                        )
                    )
    return failures, errors


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def main(argv: list[str]) -> int:
    runs = []
    for arg in argv:
        name, _, directory = arg.partition("=")
        runs.append((name, *load(name, Path(directory))))

    say("\n================ contract test: failures by pass (distinct test cases) ================")
    for name, failures, errors in runs:
        per_code = Counter()
        seen = set()
        for code, title, op, detail, sig, _req, _st in failures:
            if (code, op, detail, sig) not in seen:
                seen.add((code, op, detail, sig))
                per_code[f"{code} {title}"] += 1
        line = ", ".join(f"{k}: {v}" for k, v in sorted(per_code.items())) or "no failures"
        say(f"  {name:<10} {line}")
        for err in errors:
            say(f"  {name:<10} ERROR {err}")

    groups: dict[tuple, dict] = defaultdict(lambda: {"passes": set(), "cases": set()})
    server_errors: dict[tuple, tuple] = {}
    for name, failures, _errors in runs:
        for code, title, op, detail, sig, request, status in failures:
            group = groups[(code, title, op, detail)]
            group["passes"].add(name)
            group["cases"].add((name, sig))
            if status is not None and status >= 500 and sig not in server_errors:
                server_errors[sig] = (name, op, status, request)

    say("\n================ distinct failures: check / operation / detail ================")
    by_code = defaultdict(list)
    for (code, title, op, detail), group in groups.items():
        by_code[(code, title)].append((op, detail, group))
    for (code, title), items in sorted(by_code.items()):
        say(f"\n{code} {title}: {len(items)} distinct (operation, detail) pairs")
        for op, detail, group in sorted(items, key=lambda item: (item[0].split(" ", 1)[-1], item[0], item[1])):
            passes = ",".join(sorted(group["passes"]))
            say(f"  {op:<42} {detail}   [{passes}; {len(group['cases'])} case(s)]")

    say(f"\n================ 5xx responses: {len(server_errors)} distinct request(s) ================")
    for name, op, status, request in server_errors.values():
        say(f"\n  [{name}] {op} -> {status}")
        say(f"    {_curl(request, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
