"""The widget in real Chromium against `haechi serve`: demo page, CSP, step-up panel, keyboard.

Needs the built bundle (`npm ci && npm run build` in widget/), Debian's Chromium at
/usr/bin/chromium and the `playwright` Python package (it drives that binary; no browser is
downloaded). Missing pieces skip these tests, or fail them when HAECHI_TEST_REQUIRE_BROWSER=1 or
HAECHI_TEST_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from .server import Haechi as BaseHaechi

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HAECHI_TEST_CHROMIUM", "/usr/bin/chromium")
DIST = ROOT / "widget" / "dist"
REQUIRE = "1" in (
    os.environ.get("HAECHI_TEST_REQUIRE_BROWSER"),
    os.environ.get("HAECHI_TEST_REQUIRE_SERVICES"),
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Proof-of-work light enough for a shared CI machine; one band, so headless Chromium (which
# says so in its telemetry hints) is never blocked.
LIGHT_BANDS = json.dumps([{"max_risk": 100, "pow_bits": 10, "pow_count": 2}])
GLYPH_BANDS = json.dumps(
    [{"max_risk": 100, "pow_bits": 8, "pow_count": 2, "challenges": ["glyph"]}]
)
TOKEN = re.compile(r"^v2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20,}$")


def missing(what: str) -> None:
    if REQUIRE:
        pytest.fail(f"browser tests need {what}")
    pytest.skip(f"browser tests need {what}")


def documented_csp(heading: str) -> str:
    """The policy docs/widget.md publishes under ``heading`` (one fenced block)."""
    text = (ROOT / "docs" / "widget.md").read_text(encoding="utf-8")
    match = re.search(re.escape(heading) + r".*?```text\n(.*?)\n```", text, re.S)
    assert match, f"docs/widget.md has no policy under {heading!r}"
    return " ".join(match.group(1).split())


# ------------------------------------------------------------------------------ servers


class Haechi(BaseHaechi):
    """A server whose widget must be served (built and mounted)."""

    def start(self) -> None:
        self.env.setdefault("HAECHI_LOG__ACCESS", "false")
        super().start()
        script = httpx.get(f"{self.url}/v1/widget.js", timeout=5)
        assert script.status_code == 200, (
            f"/v1/widget.js answered {script.status_code}: is haechi.widget mounted in app.py?"
        )

    def siteverify(self, token: str, path: str = "/siteverify") -> dict[str, Any]:
        reply = httpx.post(
            self.url + path, data={"secret": self.demo["secret"], "response": token}, timeout=10
        )
        body: dict[str, Any] = reply.json()
        return body


def start_haechi(tmp: Path, **env: str) -> Iterator[Haechi]:
    if not (DIST / "widget.js").is_file():
        missing("the built widget (npm ci && npm run build in widget/)")
    server = Haechi(tmp / "data", dict(env))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def haechi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    yield from start_haechi(tmp_path_factory.mktemp("light"), HAECHI_POLICY__BANDS=LIGHT_BANDS)


@pytest.fixture(scope="module")
def glyph_haechi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    yield from start_haechi(
        tmp_path_factory.mktemp("glyph"),
        HAECHI_POLICY__BANDS=GLYPH_BANDS,
        HAECHI_POLICY__ENABLED_TEST_TYPES='["glyph"]',
    )


class SitePages:
    """Another origin (http://localhost:PORT) serving a customer's pages under a given CSP."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, bytes, str]] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = pages.get(self.path.split("?")[0])
                if found is None:
                    self.send_error(404)
                    return
                content_type, body, csp = found
                self.send_response(200)
                self.send_header("content-type", content_type)
                self.send_header("cache-control", "no-store")
                if csp:
                    self.send_header("content-security-policy", csp)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, body: str, csp: str = "", content_type: str = "text/html") -> str:
        self.pages[path] = (f"{content_type}; charset=utf-8", body.encode(), csp)
        return self.url + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[SitePages]:
    pages = SitePages()
    yield pages
    pages.close()


# ------------------------------------------------------------------------------ browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package (pip install playwright)")
    if not Path(CHROMIUM).exists():
        missing(f"Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    page: Any
    problems: list[str]
    workers: list[str]


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1000, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            problems.append(f"CSP: {text}")
        elif message.type == "error" and "favicon" not in text and "404" not in text:
            problems.append(f"console: {text}")

    page.on("console", on_console)
    workers: list[str] = []
    page.on("worker", lambda worker: workers.append(worker.url))
    yield Tab(page, problems, workers)
    context.close()


def human_moves(page: Any) -> None:
    """A short, curved mouse path, so the telemetry has something a person would make."""
    page.mouse.move(40, 40)
    for i in range(1, 25):
        page.mouse.move(40 + i * 12, 40 + (i * i) % 37 + i * 6)
        page.wait_for_timeout(16)


def token_in(page: Any, selector: str = 'input[name="haechi-response"]') -> str:
    from playwright.sync_api import expect

    field = page.locator(selector).first
    expect(field).to_have_value(TOKEN, timeout=20_000)
    value: str = field.input_value()
    return value


def fill_signup(page: Any) -> None:
    page.fill("#name", "Kim Haechi")
    page.fill("#email", "kim@example.com")
    page.fill("#password", "correct horse battery")


def result_of(page: Any) -> dict[str, Any]:
    page.wait_for_url(re.compile(r"/demo"), wait_until="load")
    verdict: dict[str, Any] = json.loads(page.locator("#verdict").inner_text())
    return verdict


# ------------------------------------------------------------------------------ tests


def test_demo_page_token_verifies_server_side_under_the_published_csp(
    haechi: Haechi, tab: Tab
) -> None:
    page = tab.page
    response = page.goto(haechi.url.replace("127.0.0.1", "localhost") + "/demo")
    assert response.status == 200
    assert response.headers["content-security-policy"] == documented_csp("Same origin")
    human_moves(page)
    token = token_in(page)
    assert page.get_by_role("checkbox", name="I am human").get_attribute("aria-checked") == "true"
    fill_signup(page)
    page.get_by_role("button", name="Sign up").click()
    verdict = result_of(page)
    assert verdict["success"] is True, verdict
    assert verdict["hostname"] == "localhost" and verdict["action"] == "signup"
    assert page.locator("#result").inner_text().startswith("Verified")
    # The demo spent the token: a replay fails.
    assert haechi.siteverify(token)["error-codes"] == ["timeout-or-duplicate"]
    # The proof-of-work ran in the inlined worker, which the policy allows.
    assert tab.workers and all(url.startswith("blob:") for url in tab.workers)
    assert tab.problems == []


def test_without_worker_src_the_work_falls_back_to_the_main_thread(
    haechi: Haechi, site: SitePages, tab: Tab
) -> None:
    csp = documented_csp("Another origin").replace("https://captcha.example.com", haechi.url)
    csp = csp.replace("worker-src blob:", "worker-src 'none'")
    page_html = (
        f'<!doctype html><html lang="en"><title>No workers</title>'
        f'<script src="{haechi.url}/v1/widget.js" async></script>'
        f'<form><div class="haechi" data-sitekey="{haechi.demo["sitekey"]}"></div></form></html>'
    )
    tab.page.goto(site.add("/no-workers", page_html, csp))
    token = token_in(tab.page)
    assert haechi.siteverify(token)["success"] is True
    assert tab.workers == []
    # The browser reports the refused worker; nothing else went wrong.
    assert all("worker" in p.lower() for p in tab.problems), tab.problems


def test_not_built_or_unknown_hash_is_explicit(haechi: Haechi) -> None:
    manifest = httpx.get(f"{haechi.url}/v1/widget.json").json()
    hashed = manifest["widget.js"]["url"]
    reply = httpx.get(haechi.url + hashed)
    assert reply.status_code == 200
    assert "immutable" in reply.headers["cache-control"]
    assert reply.headers["content-type"].startswith("text/javascript")
    stable = httpx.get(f"{haechi.url}/v1/widget.js")
    assert stable.content == reply.content and "immutable" not in stable.headers["cache-control"]
    again = httpx.get(
        f"{haechi.url}/v1/widget.js", headers={"if-none-match": stable.headers["etag"]}
    )
    assert again.status_code == 304
    old = httpx.get(f"{haechi.url}/v1/widget.0123456789abcdef.js")
    assert old.status_code == 302 and old.headers["location"] == hashed


CUSTOMER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="{haechi}/v1/widget.js" defer></script>
<script src="/app.js" defer></script></head>
<body><main>
<h1>Checkout</h1>
<form id="checkout" action="/done" method="get">
<haechi-widget id="element" sitekey="{sitekey}" theme="dark" action="checkout" cdata="order-7"></haechi-widget>
<div id="invisible" class="haechi" data-sitekey="{sitekey}" data-size="invisible" data-response-field="false" data-callback="shop.onToken"></div>
</form>
<button type="button" id="run">Pay</button>
<button type="button" id="reset">Reset</button>
<p>Token: <output id="token"></output></p>
<p>Callbacks: <output id="calls"></output></p>
</main></body></html>
"""

CUSTOMER_SCRIPT = """
window.shop = {
  calls: 0,
  onToken(token) { document.getElementById("calls").textContent = String(++window.shop.calls); },
};
haechi.ready(() => {
  const out = document.getElementById("token");
  document.getElementById("run").addEventListener("click", () => {
    haechi.execute("#invisible").then((t) => { out.textContent = t; }, (e) => { out.textContent = "error:" + e.message; });
  });
  document.getElementById("reset").addEventListener("click", () => {
    haechi.reset("#invisible");
    out.textContent = "";
  });
});
"""


def test_cross_origin_page_custom_element_invisible_execute_and_reset(
    haechi: Haechi, site: SitePages, tab: Tab
) -> None:
    """A customer's page on another origin, under exactly the published cross-origin policy."""
    csp = documented_csp("Another origin").replace("https://captcha.example.com", haechi.url)
    # The page's own script comes from its own origin: the only addition to the policy.
    csp = csp.replace("script-src ", "script-src 'self' ")
    sitekey = haechi.demo["sitekey"]
    url = site.add("/shop", CUSTOMER_PAGE.format(haechi=haechi.url, sitekey=sitekey), csp)
    site.add("/app.js", CUSTOMER_SCRIPT, content_type="text/javascript")
    page = tab.page
    page.goto(url)
    human_moves(page)

    # The custom element (managed) verifies by itself and fills its form field.
    element_token = token_in(page, '#element input[name="haechi-response"]')
    verdict = haechi.siteverify(element_token)
    assert verdict["success"] is True and verdict["cdata"] == "order-7", verdict
    assert verdict["action"] == "checkout"

    # Invisible mode does nothing until execute().
    assert page.locator("#invisible input").count() == 0
    assert page.locator("#token").inner_text() == ""
    page.click("#run")
    first = page.locator("#token")
    from playwright.sync_api import expect

    expect(first).to_have_text(TOKEN)
    token_1 = first.inner_text()
    expect(page.locator("#calls")).to_have_text("1")
    assert haechi.siteverify(token_1)["success"] is True

    # reset() then a second run gives a fresh token that verifies too.
    page.click("#reset")
    expect(first).to_have_text("")
    page.click("#run")
    expect(first).to_have_text(TOKEN)
    token_2 = first.inner_text()
    assert token_2 != token_1
    assert haechi.siteverify(token_2)["success"] is True
    expect(page.locator("#calls")).to_have_text("2")
    assert tab.problems == []


def test_invisible_demo_runs_on_form_submit(haechi: Haechi, tab: Tab) -> None:
    page = tab.page
    page.goto(haechi.url.replace("127.0.0.1", "localhost") + "/demo?mode=invisible")
    human_moves(page)
    assert page.locator('input[name="haechi-response"]').input_value() == ""
    assert not page.get_by_role("checkbox", name="I am human").is_visible()
    fill_signup(page)
    page.get_by_role("button", name="Sign up").click()
    verdict = result_of(page)
    assert verdict["success"] is True, verdict
    assert tab.problems == []


def glyph_of(prompt: str) -> str:
    found = re.search(r"[(（]\s*(\S)\s*[)）]", prompt)
    assert found, prompt
    return found.group(1)


def test_glyph_panel_wrong_answer_then_solved_by_clicking_cells(
    glyph_haechi: Haechi, tab: Tab
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(glyph_haechi.url.replace("127.0.0.1", "localhost") + "/demo")
    dialog = page.get_by_role("dialog", name="Verification challenge")
    # The task waits for the visitor to ask for it (it never opens on its own), and says so.
    expect(page.locator("p.st")).to_have_text("One more step: select the checkbox.")
    expect(dialog).to_be_hidden()
    page.get_by_role("checkbox", name="I am human").click()
    expect(dialog).to_be_visible()
    cells = dialog.locator(".grid button")
    expect(cells).to_have_count(9)

    # A wrong answer: a new challenge comes, with a note saying so.
    target = glyph_of(dialog.locator("#hp").inner_text())
    wrong = next(i for i in range(9) if cells.nth(i).inner_text().strip() != target)
    cells.nth(wrong).click()
    dialog.get_by_role("button", name="Verify").click()
    expect(dialog.get_by_role("alert")).to_have_text(re.compile("not right"))

    target = glyph_of(dialog.locator("#hp").inner_text())
    picked = 0
    for i in range(9):
        if cells.nth(i).inner_text().strip() == target:
            cells.nth(i).click()
            expect(cells.nth(i)).to_have_attribute("aria-pressed", "true")
            picked += 1
    assert picked >= 2
    dialog.get_by_role("button", name="Verify").click()
    expect(dialog).to_be_hidden()
    token_in(page)
    fill_signup(page)
    page.get_by_role("button", name="Sign up").click()
    assert result_of(page)["success"] is True
    assert tab.problems == []


def test_keyboard_only_completion(glyph_haechi: Haechi, tab: Tab) -> None:
    """Nothing but keys: the form, the panel (opened from the checkbox), the submit button.

    The task is ready while the visitor is still typing: it must not open under them (a modal
    would take their focus and keystrokes); it opens when they press Space on the checkbox."""
    from playwright.sync_api import expect

    page = tab.page
    keys = page.keyboard
    page.goto(glyph_haechi.url.replace("127.0.0.1", "localhost") + "/demo?language=ko")
    dialog = page.get_by_role("dialog", name="확인 문제")
    checkbox = page.get_by_role("checkbox", name="사람입니다")
    page.locator("#name").focus()
    keys.type("Kim", delay=60)
    expect(page.locator("p.st")).to_have_text("한 단계 더: 체크박스를 선택하세요.")
    expect(checkbox).to_have_attribute("aria-disabled", "false")
    for field_id, text in (("email", "k@example.com"), ("password", "correct horse")):
        keys.press("Tab")
        expect(page.locator(f"#{field_id}")).to_be_focused()
        keys.type(text, delay=60)
        expect(page.locator(f"#{field_id}")).to_be_focused()
        expect(page.locator(f"#{field_id}")).to_have_value(text)
        expect(dialog).to_be_hidden()
    keys.press("Tab")
    expect(checkbox).to_be_focused()
    keys.press("Space")
    expect(dialog).to_be_visible()
    cells = dialog.locator(".grid button")
    expect(cells.first).to_be_focused()
    target = glyph_of(dialog.locator("#hp").inner_text())
    for i in range(9):
        expect(cells.nth(i)).to_be_focused()
        if cells.nth(i).inner_text().strip() == target:
            keys.press("Space")
        keys.press("ArrowRight")
    keys.press("Tab")  # Close
    keys.press("Tab")  # New challenge
    keys.press("Tab")  # Verify
    expect(dialog.get_by_role("button", name="확인")).to_be_focused()
    keys.press("Enter")
    expect(dialog).to_be_hidden()
    token_in(page)
    # Focus is back on the widget's checkbox: on to the submit button.
    expect(checkbox).to_be_focused()
    expect(checkbox).to_have_attribute("aria-checked", "true")
    keys.press("Tab")
    expect(page.get_by_role("button", name="Sign up")).to_be_focused()
    keys.press("Enter")
    assert result_of(page)["success"] is True
    assert tab.problems == []
