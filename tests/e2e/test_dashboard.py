"""The website and dashboard (dashboard/) in real Chromium against `haechi serve`: every page in
Korean and English, light and dark, under the served CSP; axe-core finds no serious or critical
violation; keyboard-only use; the landing page's live widget demo issues a token.

Needs the built app (`make dashboard`) and the widget, Chromium and Playwright as the widget's
browser tests do. Screenshots of every page go to build/e2e/dashboard/ (HAECHI_SCREENSHOTS
overrides); docs/dashboard.md shows some of them.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import os
import re
import sqlite3
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e import test_widget_browser as base
from tests.e2e.server import free_port
from tests.e2e.test_widget_browser import (
    LIGHT_BANDS,
    ROOT,
    Haechi,
    missing,
    start_haechi,
    token_in,
)

browser, site = base.browser, base.site

DIST = ROOT / "dashboard" / "dist"
AXE = ROOT / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("HAECHI_SCREENSHOTS", ROOT / "build" / "e2e" / "dashboard"))
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# path -> screenshot name. Every page of the app that works without an account.
PAGES = {
    "/": "landing",
    "/pricing": "pricing",
    "/docs": "docs",
    "/docs/widget": "docs-widget",
    "/signin": "signin",
    "/signin/google": "signin-google",
    "/signup": "signup",
    "/verify-email": "verify-email",
    "/forgot-password": "forgot-password",
    "/reset-password": "reset-password",
    "/no-such-page": "not-found",
}
LOCALES = {"en": "en-US", "ko": "ko-KR"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    if not (DIST / "index.html").is_file():
        missing("the built dashboard (make dashboard)")
    if not AXE.is_file():
        missing("axe-core (npm ci in dashboard/)")
    yield from start_haechi(tmp_path_factory.mktemp("dashboard"), HAECHI_POLICY__BANDS=LIGHT_BANDS)


def new_page(browser: Any, language: str, scheme: str, *, bypass_csp: bool = False) -> Any:
    context = browser.new_context(
        locale=LOCALES[language],
        color_scheme=scheme,
        viewport={"width": 1280, "height": 900},
        bypass_csp=bypass_csp,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    from playwright.sync_api import expect

    # Sign-in hashes a password (argon2): on the shared, loaded machine that took over 5 s.
    expect.set_options(timeout=15_000)
    return page


def serious_violations(page: Any, *, colours_only: bool = False) -> list[str]:
    """axe's WCAG 2.2 AA rules; ``colours_only``: the contrast rules alone (the other scheme of
    a page already scanned: only its colours differ)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    only = {"type": "rule", "values": ["color-contrast", "link-in-text-block"]}
    result = page.evaluate(
        "(only) => axe.run(document, {runOnly: only})",
        only if colours_only else {"type": "tag", "values": TAGS},
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def open_page(page: Any, url: str) -> str:
    from playwright.sync_api import expect

    page.goto(url)
    heading = page.locator("main h1")
    expect(heading).to_be_visible()
    text: str = heading.inner_text()
    return text


def navigate(page: Any, path: str) -> str:
    """A client-side navigation (the app's router follows popstate): axe stays loaded."""
    from playwright.sync_api import expect

    previous = page.query_selector("main h1")
    before = previous.inner_text() if previous is not None else None
    page.evaluate(
        "(p) => { history.pushState({}, '', p); dispatchEvent(new PopStateEvent('popstate')); }",
        path,
    )
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    if previous is not None:
        # The previous page stays until the new route's chunk loads: wait until its heading is
        # gone or says something else (reading it at once read the last page under load).
        page.wait_for_function(
            "([el, text]) => !el.isConnected || el.innerText !== text", arg=[previous, before]
        )
    if path.startswith("/docs/"):
        expect(page.locator("article.doc h1")).to_be_visible()
    heading = page.locator("main h1")
    expect(heading).to_be_visible()
    page.wait_for_load_state("networkidle")
    text: str = heading.inner_text()
    return text


@pytest.mark.parametrize("language", ["en", "ko"])
def test_every_page_in_each_language_light_and_dark(
    server: Haechi, browser: Any, language: str
) -> None:
    """Browser language decides; no serious axe violation; a screenshot of each page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    # bypass_csp only so that axe (an injected inline script) can run; the CSP has its own test.
    page = new_page(browser, language, "light", bypass_csp=True)
    open_page(page, server.url + "/pricing")
    found: dict[str, list[str]] = {}
    for path, name in PAGES.items():
        heading = navigate(page, path)
        assert page.locator("html").get_attribute("lang") == language
        if path == "/docs/widget":
            assert heading == "The browser widget"  # the docs themselves are in English
        else:
            assert bool(HANGUL.search(heading)) == (language == "ko"), f"{path}: {heading!r}"
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=str(SHOTS / f"{name}-{language}-{scheme}.png"))
            violations = serious_violations(page, colours_only=scheme == "dark")
            if violations:
                found[f"{path} ({scheme})"] = violations
    page.context.close()
    assert found == {}


def test_pages_run_under_the_served_csp(server: Haechi, browser: Any) -> None:
    page = new_page(browser, "en", "light")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" or "Refused" in m.text else None,
    )
    for path in PAGES:
        reply = page.goto(server.url + path)
        assert reply is not None and reply.status == 200
        assert "script-src 'self';" in reply.headers["content-security-policy"]
        page.locator("main h1").wait_for()
    page.context.close()
    # The not-found page is the app's own (status 200 from the fallback): no console errors.
    assert problems == []


def test_language_switch_is_kept(server: Haechi, browser: Any) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, "en", "light")
    open_page(page, server.url + "/pricing")
    page.get_by_label("Language", exact=True).select_option("ko")
    expect(page.locator("main h1")).to_have_text("요금")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.reload()
    expect(page.locator("main h1")).to_have_text("요금")  # the choice beats the browser's
    page.context.close()


def test_keyboard_only_journey(server: Haechi, browser: Any) -> None:
    """Skip link, the main menu, docs search and a result, and the language switch: keys only."""
    from playwright.sync_api import expect

    page = new_page(browser, "en", "light")
    open_page(page, server.url + "/")
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("main")

    open_page(page, server.url + "/")
    for _ in range(10):  # skip link, brand, Pricing, Docs
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Docs":
            break
    page.keyboard.press("Enter")
    expect(page.locator("main h1")).to_have_text("Documentation")
    expect(page.locator(":focus")).to_have_id("main")  # focus follows the navigation
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("type", "search")
    page.keyboard.type("siteverify secret")
    expect(page.get_by_role("status")).to_contain_text("results")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/docs/[\w/-]+(#[\w-]+)?$"))
    expect(page.locator("article.doc")).to_contain_text("siteverify")

    language = page.get_by_label("Language", exact=True)
    language.focus()
    page.keyboard.press("ArrowUp")  # English -> 한국어 (the first option)
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    page.context.close()


@pytest.mark.parametrize("language", ["en", "ko"])
def test_landing_widget_demo_issues_a_token(server: Haechi, browser: Any, language: str) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, language, "light")
    # The demo site allows localhost and 127.0.0.1; the app is served from the same origin.
    open_page(page, server.url + "/")
    status = page.get_by_test_id("demo-status")
    passed = "Passed" if language == "en" else "통과"
    expect(status).to_contain_text(passed, timeout=30_000)
    page.context.close()


# ------------------------------------------------------------------ the whole journey


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    """A server whose e-mailed links point at itself (the sink writes .eml into <data>/mail)."""
    if not (DIST / "index.html").is_file():
        missing("the built dashboard (make dashboard)")
    port = free_port()
    env = {
        "HAECHI_POLICY__BANDS": LIGHT_BANDS,
        "HAECHI_PLATFORM__PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    server = Haechi(tmp_path_factory.mktemp("journey") / "data", env, port=port)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def mailed_link(server: Haechi, path: str, *, to: str = "", timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    pattern = re.compile(re.escape(server.url + path) + r"\?token=[A-Za-z0-9_\-]+")
    while time.monotonic() < deadline:
        for eml in sorted((server.data_dir / "mail").glob("*.eml")):
            message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
            if to and to not in str(message["to"]):
                continue
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    found = pattern.search(part.get_content())
                    if found:
                        return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no mail with a {path} link in {server.data_dir / 'mail'}")


def test_sign_up_to_a_verified_token_on_a_protected_page(
    platform: Haechi, browser: Any, site: Any
) -> None:
    """The README's new user: sign up, verify by the e-mailed link, sign in, create an org and
    a site, copy the snippet into a page of their own, pass the widget there and verify the token
    with the secret shown once; the site set to the friction-free test level."""
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    # bypass_csp for axe only; test_pages_run_under_the_served_csp covers the policy.
    page = new_page(browser, "en", "light", bypass_csp=True)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    violations: dict[str, list[str]] = {}

    def shot(name: str) -> None:
        page.screenshot(path=str(SHOTS / f"journey-{name}.png"))
        found = serious_violations(page)
        if found:
            violations[name] = found

    open_page(page, platform.url + "/signup")
    page.get_by_label("E-mail").fill("owner@example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(
        page.get_by_text("Use at least 10 characters.")
    ).to_be_visible()  # checked in the browser
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("owner@example.com")
    shot("1-signed-up")

    page.goto(mailed_link(platform, "/verify-email", to="owner@example.com"))
    expect(page.get_by_role("status")).to_contain_text("verified")
    shot("2-verified")

    open_page(page, platform.url + "/orgs")  # not signed in: to sign-in, the page kept
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label("E-mail").fill("owner@example.com")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).not_to_be_empty()  # the API's problem, shown
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("main h1")).to_have_text("Your organisations")
    page.get_by_role("link", name="Set up your first site").click()

    page.get_by_label("Organisation name").fill("Acme")
    page.get_by_role("button", name="Create organisation").click()
    page.get_by_label("Site name").fill("Acme shop")
    host = urlsplit(site.url).hostname
    page.get_by_label("Hostnames").fill(f"127.0.0.1\n{host}")
    page.get_by_role("button", name="Create site").click()
    sitekey = page.get_by_label("Sitekey (public)").input_value()
    secret = page.get_by_label("Secret (for your server)").input_value()
    assert sitekey.startswith("hk_") and secret.startswith("hs_")
    expect(page.get_by_test_id("widget-test-status")).to_contain_text("It works", timeout=30_000)
    shot("3-onboarding")

    page.get_by_role("tab", name="Python").click()
    assert "haechi-response" in page.get_by_role("textbox", name="Python").input_value()
    page.get_by_role("tab", name="Page").click()
    snippet = page.get_by_role("textbox", name="Page").input_value()
    assert sitekey in snippet and platform.url in snippet

    page.get_by_role("link", name="Go to your sites").click()
    expect(page.get_by_role("cell", name=sitekey)).to_be_visible()
    page.get_by_role("link", name="Acme shop").click()
    # A new page load has no access token: the refresh cookie brings the session back silently.
    page.reload()
    expect(page.locator("main h1")).to_have_text("Acme shop")
    page.get_by_label("Security level").select_option("test")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    shot("4-site")

    # Team, API keys, audit log, account: each page against the real API.
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_role("cell", name="owner@example.com")).to_be_visible()
    page.get_by_label("E-mail").fill("dev@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("cell", name="dev@example.com")).to_be_visible()
    shot("5-team")
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("deploy bot")
    page.get_by_role("button", name="Create key").click()
    assert page.get_by_label("Your new key (shown only once)").input_value().startswith("hak_")
    expect(page.get_by_role("cell", name=re.compile("deploy bot"))).to_be_visible()
    shot("6-api-keys")
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("table.table tbody tr").first).to_be_visible()
    shot("7-audit")
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("cell", name=re.compile("this browser"))).to_be_visible()
    shot("8-account")

    # The same pages in Korean and dark.
    page.get_by_label("Language", exact=True).select_option("ko")
    page.emulate_media(color_scheme="dark")
    expect(page.locator("main h1")).to_have_text("계정과 보안")
    page.get_by_role("link", name="대시보드").click()
    page.get_by_role("link", name="Acme").click()
    for link in ("사이트", "팀", "API 키", "감사 로그"):
        page.get_by_role("navigation", name="Acme").get_by_role("link", name=link).click()
        expect(page.locator("main h1")).to_have_text(re.compile(HANGUL.pattern))
        shot(f"9-{link.replace(' ', '-')}-ko-dark")
    page.emulate_media(color_scheme="light")
    page.get_by_label("언어", exact=True).select_option("en")

    # The owner's own page, another origin, with the snippet pasted in as it is.
    url = site.add("/signup.html", f"<!doctype html><title>Shop</title>{snippet}")
    shop = page.context.new_page()
    shop.goto(url)
    token = token_in(shop)
    verdict = httpx.post(
        platform.url + "/siteverify", data={"secret": secret, "response": token}, timeout=10
    ).json()
    assert verdict["success"] is True, verdict
    assert verdict["hostname"] == host
    shop.close()

    # The verification arrives in the live view (polled every 5 s) and the analytics page.
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_test_id(f"live-verifies-{sitekey}")).not_to_have_text("0", timeout=30_000)
    expect(page.get_by_test_id("total-challenges")).to_be_visible()
    shot("10-analytics")
    page.context.close()
    assert problems == []
    assert violations == {}


def api_account(server: Haechi, email_address: str) -> dict[str, str]:
    """A verified account with an org and a site at the test level, made through the API."""
    password = "correct horse battery staple"
    # Sign-up and sign-in hash a password: seconds each on the shared, loaded machine.
    api = httpx.Client(base_url=server.url + "/api/v1", timeout=30)
    created = api.post("/accounts", json={"email": email_address, "password": password})
    assert created.status_code == 201, created.text
    token = mailed_link(server, "/verify-email", to=email_address).split("token=")[1]
    assert api.post("/accounts/verify-email", json={"token": token}).status_code == 200
    login = api.post("/auth/login", json={"email": email_address, "password": password})
    auth = {"authorization": f"Bearer {login.json()['access_token']}"}
    org = api.post("/orgs", json={"name": "Suspect Ltd"}, headers=auth).json()
    site = api.post(
        f"/orgs/{org['id']}/sites",
        json={"name": "Suspect", "hostnames": ["127.0.0.1"], "security_level": "test"},
        headers=auth,
    ).json()
    api.close()
    return {"password": password, "org": org["id"], "sitekey": site["sitekey"]}


def challenge_status(server: Haechi, sitekey: str) -> tuple[int, str]:
    reply = httpx.post(
        server.url + "/v1/challenge",
        json={"v": 1, "sitekey": sitekey},
        headers={"origin": server.url},
        timeout=10,
    )
    code = reply.json().get("error", {}).get("code", "") if reply.status_code != 200 else ""
    return reply.status_code, code


def test_operator_suspends_and_restores_an_org_from_the_console(
    platform: Haechi, browser: Any
) -> None:
    from playwright.sync_api import expect

    account = api_account(platform, "operator@example.com")
    # `haechi admin grant` is not in the CLI yet: the flag is set in the database directly.
    with sqlite3.connect(platform.data_dir / "haechi.db") as db:
        db.execute("UPDATE users SET is_operator = 1 WHERE email = 'operator@example.com'")
    assert challenge_status(platform, account["sitekey"]) == (200, "")

    page = new_page(browser, "ko", "dark", bypass_csp=True)
    page.on("dialog", lambda dialog: dialog.accept())
    open_page(page, platform.url + "/admin")  # to sign-in, then back here
    page.get_by_label("이메일").fill("operator@example.com")
    page.get_by_label("비밀번호").fill(account["password"])
    page.get_by_role("button", name="로그인", exact=True).click()
    expect(page.locator("main h1")).to_have_text("운영자 콘솔")
    page.get_by_label("이름이나 슬러그로 검색").fill("Suspect")
    row = page.get_by_role("row", name=re.compile("Suspect Ltd"))
    row.get_by_role("button", name="정지").click()
    expect(row).to_contain_text("정지됨")
    page.screenshot(path=str(SHOTS / "admin-ko-dark.png"))
    assert serious_violations(page) == []
    assert challenge_status(platform, account["sitekey"]) == (403, "site-suspended")

    row.get_by_role("button", name="정지 해제").click()
    expect(row).to_contain_text("활성")
    assert challenge_status(platform, account["sitekey"]) == (200, "")

    # The rest of the console: users, every site's traffic and attack level, the mail queue.
    console = page.get_by_role("navigation", name="운영자 콘솔")
    console.get_by_role("link", name="사용자").click()
    page.get_by_label("이메일 주소로 검색").fill("operator@")
    expect(page.get_by_role("cell", name="operator@example.com")).to_be_visible()
    console.get_by_role("link", name="트래픽과 공격").click()
    expect(page.get_by_test_id(f"live-challenges-{account['sitekey']}")).not_to_have_text("0")
    expect(page.get_by_test_id("live-attack-highest")).to_be_visible()
    page.screenshot(path=str(SHOTS / "admin-traffic-ko-dark.png"), full_page=True)
    assert serious_violations(page) == []

    # Two undeliverable mails (made so in the database): one retried, one dropped.
    httpx.post(
        platform.url + "/api/v1/accounts/password-reset",
        json={"email": "operator@example.com"},
        timeout=30,
    )
    mailed_link(platform, "/reset-password", to="operator@example.com")
    with sqlite3.connect(platform.data_dir / "haechi.db") as db:
        db.execute(
            "UPDATE mail_outbox SET status = 'dead', last_error = 'smtp: 554 refused'"
            " WHERE to_address = 'operator@example.com'"
        )
    console.get_by_role("link", name="메일 대기열").click()
    rows = page.get_by_role("row", name=re.compile("operator@example.com"))
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("smtp: 554 refused")
    page.screenshot(path=str(SHOTS / "admin-mail-ko-dark.png"), full_page=True)
    assert serious_violations(page) == []
    rows.first.get_by_role("button", name="다시 보내기").click()
    expect(page.get_by_role("status").filter(has_text="다시 대기열")).to_be_visible()
    expect(rows).to_have_count(1)
    rows.first.get_by_role("button", name="버리기").click()
    expect(rows).to_have_count(0)
    expect(page.get_by_text("메일이 없습니다.")).to_be_visible()
    page.context.close()


def totp_now(secret: str) -> str:
    """RFC 6238 with the authenticator apps' defaults (SHA-1, 30 s, 6 digits)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_two_factor_set_up_and_sign_in_with_a_recovery_code(platform: Haechi, browser: Any) -> None:
    from playwright.sync_api import expect

    account = api_account(platform, "careful@example.com")
    page = new_page(browser, "en", "light")
    open_page(page, platform.url + "/account")
    page.get_by_label("E-mail").fill("careful@example.com")
    page.get_by_label("Password").fill(account["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Two-factor sign-in is off.")).to_be_visible()
    page.get_by_role("button", name="Set up an authenticator app").click()
    secret = page.get_by_label("Secret for your authenticator app").input_value()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill("12345")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("Six digits, or one of your recovery codes.")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(totp_now(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("Two-factor sign-in is on.")).to_be_visible()
    codes = page.get_by_label(re.compile("Recovery codes")).input_value().split()
    assert len(codes) >= 5
    page.screenshot(path=str(SHOTS / "account-two-factor.png"))

    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    open_page(page, platform.url + "/signin")
    page.get_by_label("E-mail").fill("careful@example.com")
    page.get_by_label("Password").fill(account["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    otp = page.get_by_label("Code from your authenticator app")
    expect(otp).to_be_visible()  # asked for only now
    otp.fill(codes[0])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("main h1")).to_have_text("Your organisations")

    # Password: checked in the browser, then the API's wrong-password next to its field.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    password = page.get_by_role("region", name="Change your password")
    password.get_by_label("Current password").fill("not my password")
    password.get_by_label("New password").fill("short")
    password.get_by_role("button", name="Change password").click()
    expect(password.get_by_text("Use at least 10 characters.")).to_be_visible()
    password.get_by_label("New password").fill("another horse battery staple")
    password.get_by_role("button", name="Change password").click()
    expect(password.get_by_text("the current password is wrong")).to_be_visible()
    password.get_by_label("Current password").fill(account["password"])
    password.get_by_role("button", name="Change password").click()
    expect(password.get_by_role("status")).to_have_text("Your password is changed.")
    new_password = "another horse battery staple"

    # E-mail: a link to the new address; the address changes when it is opened.
    address = page.get_by_role("region", name="Change your e-mail address")
    address.get_by_label("New e-mail address").fill("careful.new@example.com")
    address.get_by_label("Current password").fill(new_password)
    address.get_by_role("button", name="Send confirmation link").click()
    expect(address.get_by_role("status")).to_contain_text("careful.new@example.com")
    page.screenshot(path=str(SHOTS / "account-forms.png"), full_page=True)
    link = mailed_link(platform, "/confirm-email", to="careful.new@example.com")
    page.goto(link)
    expect(page.get_by_role("status")).to_contain_text("changed")

    # Deleting the account ends its sessions; the address no longer signs in.
    open_page(page, platform.url + "/account")
    expect(page.get_by_test_id("account-email")).to_have_text("careful.new@example.com")
    page.on("dialog", lambda dialog: dialog.accept())
    danger = page.get_by_role("region", name="Delete your account")
    danger.get_by_label("Current password").fill(new_password)
    danger.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    login = httpx.post(
        platform.url + "/api/v1/auth/login",
        json={"email": "careful.new@example.com", "password": new_password},
        timeout=30,
    )
    assert login.status_code == 401
    page.context.close()


# ------------------------------------------------------------ plans, billing, IP rules


@pytest.fixture(scope="module")
def fake_toss() -> Iterator[str]:
    """The loopback Toss server (haechi.dev.fake_toss) under uvicorn in a thread."""
    import threading

    import uvicorn

    from haechi.dev.fake_toss import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def saas(tmp_path_factory: pytest.TempPathFactory, fake_toss: str) -> Iterator[Haechi]:
    """A server selling plans, with card billing through the fake Toss."""
    if not (DIST / "index.html").is_file():
        missing("the built dashboard (make dashboard)")
    from haechi.dev.fake_toss import TEST_SECRET_KEY

    port = free_port()
    env = {
        "HAECHI_POLICY__BANDS": LIGHT_BANDS,
        "HAECHI_PLATFORM__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HAECHI_PLANS__ENABLED": "true",
        "HAECHI_BILLING__TOSS_API_URL": fake_toss,
        "HAECHI_BILLING__TOSS_SECRET_KEY": TEST_SECRET_KEY,
        "HAECHI_BILLING__TOSS_CLIENT_KEY": "test_ck_haechi_fake",
    }
    server = Haechi(tmp_path_factory.mktemp("saas") / "data", env, port=port)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_billing_through_the_fake_toss_and_ip_rules(saas: Haechi, browser: Any) -> None:
    """Plans on: pricing from the API, the quota meter, a card registered on the fake Toss
    page, the first invoice (PDF), cancellation; IP rules checked in the browser and saved."""
    from playwright.sync_api import expect

    account = api_account(saas, "payer@example.com")
    page = new_page(browser, "en", "light", bypass_csp=True)
    page.on("dialog", lambda dialog: dialog.accept())
    violations: dict[str, list[str]] = {}

    def shot(name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        found = serious_violations(page)
        if found:
            violations[name] = found

    open_page(page, f"{saas.url}/orgs/{account['org']}/billing")
    page.get_by_label("E-mail").fill("payer@example.com")
    page.get_by_label("Password").fill(account["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("main h1")).to_have_text("Plan and billing")
    page.get_by_role("link", name="Pricing").click()
    expect(page.get_by_role("heading", name="Pro")).to_be_visible()
    shot("pricing-plans")
    page.go_back()
    expect(page.locator("main h1")).to_have_text("Plan and billing")
    expect(page.get_by_text(re.compile(r"0 of 10,000 verified tokens"))).to_be_visible()
    page.get_by_role("button", name="Register a card and subscribe to Pro").click()

    # The fake Toss's card-registration window, then back to the dashboard's return page.
    expect(page.get_by_role("heading", name="카드 등록")).to_be_visible()
    page.get_by_role("button", name="등록").click()
    expect(page.get_by_role("status")).to_contain_text("you are on the pro plan", timeout=30_000)
    page.get_by_role("link", name="Back to billing").click()
    expect(page.get_by_test_id("subscription-status")).to_have_text("active")
    invoice = page.get_by_role("button", name=re.compile(r"HAE-\d{4}-\d+ PDF"))
    with page.expect_download() as download:
        invoice.click()
    assert download.value.suggested_filename.endswith(".pdf")
    shot("billing")
    page.get_by_role("button", name="Cancel subscription").click()
    expect(page.get_by_role("status").filter(has_text="Cancelled")).to_be_visible()
    expect(page.get_by_role("button", name="Keep the subscription")).to_be_visible()

    # IP rules: checked in the browser first, then saved and listed.
    page.get_by_role("link", name="IP rules").click()
    page.get_by_label("Address or network").fill("203.0.113.300")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_text("Enter an IP address or a network")).to_be_visible()
    page.get_by_label("Address or network").fill("203.0.113.0/24")
    page.get_by_label("Note").fill("scrapers")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("cell", name="203.0.113.0/24", exact=True)).to_be_visible()
    shot("ip-rules")
    page.context.close()
    assert violations == {}
