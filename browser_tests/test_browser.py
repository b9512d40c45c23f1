"""Browser checks against a live API: Swagger UI, ReDoc and CORS, in Debian's Chromium.

Run by scripts/browser_test.sh inside scripts/live_server.py, which provides API_URL and the
tokens. Not part of the main suite (pyproject's testpaths is app/tests).
"""

import functools
import http.server
import os
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, Response, expect, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 20_000
SELLER_EMAIL = "seller1@example.com"
ALLOWED_ORIGIN_PORT = 3000  # CORS_ALLOWED_ORIGINS defaults to http://localhost:3000
OTHER_ORIGIN_PORT = 3001

PRODUCTS_LIST = "#operations-products-products_list"
PROFILE_GET = "#operations-auth-auth_profile_list"

expect.set_options(timeout=TIMEOUT_MS)


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these checks through scripts/browser_test.sh")
    return value


@pytest.fixture(scope="module")
def api_url() -> str:
    return _env("API_URL").rstrip("/")


@pytest.fixture(scope="module")
def seller_token() -> str:
    return _env("SELLER_TOKEN")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watched:
    """A page and what it reported: console errors, uncaught errors, failed requests, responses."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    def console_errors_from(self, origin: str) -> list[str]:
        return [error for error in self.console_errors if error.endswith("]") and f"[{origin}" in error]

    def failed_requests_to(self, origin: str) -> list[str]:
        return [failure for failure in self.failed_requests if failure.startswith(origin)]

    def error_responses_from(self, origin: str) -> list[str]:
        return [
            f"{r.status} {r.request.method} {r.url}"
            for r in self.responses
            if r.url.startswith(origin) and r.status >= 400
        ]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[], Watched]]:
    """Open a page in a fresh browser context (no shared storage or Swagger authorization)."""
    contexts = []

    def _open() -> Watched:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        watched = Watched(context.new_page())

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                location = message.location.get("url", "")
                watched.console_errors.append(f"{message.text} [{location}]")

        def on_request_failed(request: Request) -> None:
            watched.failed_requests.append(f"{request.url} {request.method}: {request.failure}")

        watched.page.on("console", on_console)
        watched.page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
        watched.page.on("requestfailed", on_request_failed)
        watched.page.on("response", lambda response: watched.responses.append(response))
        return watched

    yield _open
    for context in contexts:
        context.close()


# ---------------------------------------------------------------------------
# Swagger UI
# ---------------------------------------------------------------------------


def _open_swagger(page: Page, api_url: str) -> None:
    page.goto(f"{api_url}/swagger/")
    expect(page.locator(PRODUCTS_LIST)).to_be_visible()


def _authorize(page: Page, value: str) -> None:
    """Fill the "Bearer" apiKey in the Authorize dialog, apply it and close the dialog."""
    page.locator(".scheme-container button.authorize").click()
    dialog = page.locator(".modal-ux")
    expect(dialog).to_be_visible()
    dialog.locator("input").first.fill(value)
    dialog.locator("button.authorize").click()
    # Once applied, the dialog says "Authorized" and offers Logout instead of Authorize.
    expect(dialog.get_by_role("heading", name="Authorized", exact=True)).to_be_visible()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.locator("button.btn-done").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".scheme-container button.authorize")).to_have_class(re.compile(r"\blocked\b"))


def _try_it_out(page: Page, op_selector: str, api_url: str, path: str) -> tuple[Response, str]:
    """Expand an operation, click "Try it out" and "Execute"; return the API response and shown code."""
    operation = page.locator(op_selector)
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    target = f"{api_url}{path}"
    with page.expect_response(lambda r: r.url.split("?")[0] == target and r.request.method == "GET") as info:
        operation.locator("button.execute").click()
    status_cell = operation.locator(".live-responses-table .response .response-col_status")
    expect(status_cell).to_have_text(str(info.value.status))
    return info.value, status_cell.inner_text().strip()


def _shown_body(page: Page, op_selector: str) -> Locator:
    """The "Response body" block of an operation's live response."""
    return page.locator(
        f"{op_selector} .live-responses-table tr.response .response-col_description"
        " div:has(> h5:text-is('Response body')) pre"
    )


def test_swagger_ui_try_it_out_lists_products(open_page, api_url, seller_token):
    watched = open_page()
    page = watched.page
    _open_swagger(page, api_url)
    _authorize(page, f"Bearer {seller_token}")

    response, shown_code = _try_it_out(page, PRODUCTS_LIST, api_url, "/api/v1/products/")

    assert shown_code == "200"
    assert response.request.headers.get("authorization") == f"Bearer {seller_token}"
    assert response.json()["success"] is True
    expect(_shown_body(page, PRODUCTS_LIST)).to_contain_text('"success"')
    assert watched.console_errors == []
    assert watched.page_errors == []
    assert watched.failed_requests_to(api_url) == []
    assert watched.error_responses_from(api_url) == []


def test_swagger_ui_authorize_sends_the_token(open_page, api_url, seller_token):
    watched = open_page()
    page = watched.page
    _open_swagger(page, api_url)
    _authorize(page, f"Bearer {seller_token}")

    response, shown_code = _try_it_out(page, PROFILE_GET, api_url, "/api/v1/auth/profile/")

    assert shown_code == "200"
    assert response.request.headers.get("authorization") == f"Bearer {seller_token}"
    assert response.json()["data"]["email"] == SELLER_EMAIL
    expect(_shown_body(page, PROFILE_GET)).to_contain_text(SELLER_EMAIL)
    assert watched.console_errors == []
    assert watched.page_errors == []
    assert watched.failed_requests_to(api_url) == []


def test_swagger_ui_without_authorize_gets_401(open_page, api_url):
    watched = open_page()  # a fresh context: nothing authorized
    page = watched.page
    _open_swagger(page, api_url)

    response, shown_code = _try_it_out(page, PROFILE_GET, api_url, "/api/v1/auth/profile/")

    assert shown_code == "401"
    assert "authorization" not in response.request.headers
    assert response.json()["success"] is False
    assert watched.page_errors == []
    assert watched.failed_requests_to(api_url) == []


# ---------------------------------------------------------------------------
# ReDoc
# ---------------------------------------------------------------------------

REDOC_TAGS = ("products", "categories", "auth", "users")


def _expand_in_sidebar(entry: Locator) -> None:
    """Expand a tag in ReDoc's sidebar. Clicking the active, expanded tag would collapse it."""
    if entry.get_attribute("aria-expanded") != "true":
        entry.locator("label").first.click()
    expect(entry).to_have_attribute("aria-expanded", "true")


def test_redoc_lists_the_operations(open_page, api_url):
    watched = open_page()
    page = watched.page
    spec = page.request.get(f"{api_url}/swagger.json").json()
    expected: dict[str, Counter[str]] = {tag: Counter() for tag in REDOC_TAGS}
    for operations in spec["paths"].values():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for tag in operation.get("tags", []):
                if tag in expected:
                    expected[tag][operation.get("summary") or operation["operationId"]] += 1

    page.goto(f"{api_url}/redoc/")
    menu = page.locator("ul[role=menu]").first
    for tag in REDOC_TAGS:
        expect(menu.locator(f'li[data-item-id="tag/{tag}"] > label')).to_have_text(tag)
        expect(menu.locator(f'li[data-item-id="tag/{tag}"]')).to_be_visible()
    for tag, summaries in expected.items():
        assert summaries, f"no operations tagged {tag!r} in /swagger.json"
        entry = menu.locator(f'li[data-item-id="tag/{tag}"]')
        _expand_in_sidebar(entry)
        for summary, count in summaries.items():
            operation = entry.get_by_role("menuitem", name=summary, exact=True)
            expect(operation).to_have_count(count)
            expect(operation.first).to_be_visible()
            expect(operation.first).to_contain_text(summary)
    # The documentation body is rendered too, not only the sidebar.
    expect(page.locator("h2").filter(has_text=re.compile(r"^\s*My profile\s*$"))).to_be_visible()
    assert watched.page_errors == []
    # ReDoc's "API docs by Redocly" badge loads its logo from cdn.redoc.ly, which may be unreachable;
    # only errors from the API's own pages and assets count.
    assert watched.console_errors_from(api_url) == []
    assert [error for error in watched.console_errors if "Content Security Policy" in error] == []
    assert watched.failed_requests_to(api_url) == []
    assert watched.error_responses_from(api_url) == []


# ---------------------------------------------------------------------------
# CORS, from a page on an allowed origin and from one that is not
# ---------------------------------------------------------------------------

CORS_PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>CORS probe</title><link rel="icon" href="data:,"></head>
<body>
<script>
  // Called by the test; resolves to the response or to the error the fetch rejected with.
  window.fetchProfile = async function (apiUrl, token) {
    try {
      const response = await fetch(apiUrl + "/api/v1/auth/profile/", {
        headers: {Authorization: "Bearer " + token},
      });
      return {status: response.status, body: await response.json()};
    } catch (error) {
      return {error: error.name, message: error.message};
    }
  };
</script>
</body>
</html>
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def page_servers(tmp_path_factory) -> Iterator[dict[int, str]]:
    """Serve index.html on 127.0.0.1:3000 (as http://localhost:3000) and on 127.0.0.1:3001."""
    root: Path = tmp_path_factory.mktemp("cors-page")
    (root / "index.html").write_text(CORS_PAGE, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(root))
    servers, threads = [], []
    try:
        for port in (ALLOWED_ORIGIN_PORT, OTHER_ORIGIN_PORT):
            try:
                server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
            except OSError as error:
                pytest.fail(f"cannot serve the CORS probe page on 127.0.0.1:{port}: {error}")
            servers.append(server)
            thread = threading.Thread(target=server.serve_forever, name=f"page-server-{port}", daemon=True)
            thread.start()
            threads.append(thread)
        yield {
            ALLOWED_ORIGIN_PORT: f"http://localhost:{ALLOWED_ORIGIN_PORT}/index.html",
            OTHER_ORIGIN_PORT: f"http://127.0.0.1:{OTHER_ORIGIN_PORT}/index.html",
        }
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)


def _fetch_profile(watched: Watched, page_url: str, api_url: str, token: str) -> dict:
    page = watched.page
    page.goto(page_url)
    page.wait_for_function("typeof window.fetchProfile === 'function'")
    return page.evaluate("([apiUrl, token]) => window.fetchProfile(apiUrl, token)", [api_url, token])


def test_cors_allows_the_configured_origin(open_page, page_servers, api_url, seller_token):
    watched = open_page()
    page_url = page_servers[ALLOWED_ORIGIN_PORT]

    result = _fetch_profile(watched, page_url, api_url, seller_token)

    assert result.get("status") == 200, result
    assert result["body"]["success"] is True
    assert result["body"]["data"]["email"] == SELLER_EMAIL
    api_responses = [r for r in watched.responses if r.url.startswith(f"{api_url}/api/v1/auth/profile/")]
    assert [r.status for r in api_responses] == [200]
    origin = urllib.parse.urlsplit(page_url)
    assert api_responses[0].headers.get("access-control-allow-origin") == f"{origin.scheme}://{origin.netloc}"
    assert watched.console_errors == []
    assert watched.failed_requests_to(api_url) == []


def test_cors_blocks_another_origin(open_page, page_servers, api_url, seller_token):
    watched = open_page()

    result = _fetch_profile(watched, page_servers[OTHER_ORIGIN_PORT], api_url, seller_token)

    assert result == {"error": "TypeError", "message": "Failed to fetch"}
    # Blocked by the browser's CORS check, not by an unreachable server.
    assert any("blocked by CORS policy" in error for error in watched.console_errors), watched.console_errors
