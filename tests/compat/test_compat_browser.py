"""The vendors' JS APIs and their React wrappers in real Chromium, on Haechi's compat scripts.

Each token the page obtains is verified once through its vendor's dialect and refused the second
time with that vendor's code. The broken cases of the compatibility issue each have a test here:
v2 tokens without `score` (drf-recaptcha), Turnstile's `cData`, the vendors' test sitekeys and
dummy responses, `<textarea>` response fields, hCaptcha's response key.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import test_widget_browser as base
from tests.e2e.test_widget_browser import TOKEN, SitePages, Tab, human_moves, token_in

from .conftest import COMPAT, REPLAY_CODE, Server, TlsFront, drf_validate, need_node

browser, site, tab = base.browser, base.site, base.tab
RESPONSE_KEY = re.compile(r"^E0_[A-Za-z0-9_-]{24}$")

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script>window.calls = [];</script>{head}</head>
<body><form id="f" action="/done" method="post">{markup}<button>Send</button></form></body></html>
"""


def open_page(tab: Tab, site: SitePages, path: str, head: str, markup: str = "") -> Any:
    tab.page.goto(site.add(path, PAGE.format(title=path, head=head, markup=markup)))
    human_moves(tab.page)
    return tab.page


def once(server: Server, vendor: str, token: str) -> dict[str, Any]:
    """Verify ``token`` in ``vendor``'s dialect, check that a replay is refused, return the first."""
    first = server.siteverify(vendor, token)
    assert first["success"] is True, first
    assert server.siteverify(vendor, token)["error-codes"] == [REPLAY_CODE[vendor]]
    return first


def tag_of(page: Any, selector: str) -> str:
    return str(page.eval_on_selector(selector, "el => el.tagName.toLowerCase()"))


# ------------------------------------------------------------------------------ reCAPTCHA


def test_recaptcha_v2_token_in_a_textarea_verifies_as_google_v2(
    server: Server, site: SitePages, tab: Tab
) -> None:
    markup = f'<div class="g-recaptcha" data-sitekey="{server.sitekey}"></div>'
    page = open_page(
        tab, site, "/rc2", f'<script src="{server.url}/recaptcha/api.js" async></script>', markup
    )
    token = token_in(page, "textarea#g-recaptcha-response")
    assert tag_of(page, '[name="g-recaptcha-response"]') == "textarea"
    assert page.eval_on_selector("#g-recaptcha-response", "el => el.style.display") == "none"
    verdict = once(server, "recaptcha", token)
    assert "score" not in verdict and "action" not in verdict, verdict
    assert tab.problems == []


def test_recaptcha_v2_widget_token_passes_drf_recaptcha_v2_field(
    server: Server, site: SitePages, tab: Tab, django_settings: None, trust: TlsFront
) -> None:
    """The broken case end to end: a v2 widget in Chromium, drf-recaptcha on the server."""
    from drf_recaptcha.fields import ReCaptchaV2Field

    markup = f'<div id="w"></div><script>function go() {{ grecaptcha.render("w", {{sitekey: "{server.sitekey}"}}); }}</script>'
    head = f'<script src="{server.url}/recaptcha/api.js?onload=go&render=explicit" async></script>'
    page = open_page(tab, site, "/rc2-drf", head, markup)
    token = token_in(page, "#g-recaptcha-response")
    ok, form = drf_validate(ReCaptchaV2Field, token)
    assert ok, form.errors
    assert not drf_validate(ReCaptchaV2Field, token)[0]


def test_recaptcha_v3_execute_carries_score_and_action(
    server: Server, site: SitePages, tab: Tab
) -> None:
    page = open_page(
        tab,
        site,
        "/rc3",
        f'<script src="{server.url}/recaptcha/api.js?render={server.sitekey}"></script>',
    )
    token = page.evaluate(
        """(key) => new Promise((ok) => grecaptcha.ready(() =>
             grecaptcha.execute(key, {action: "submit"}).then(ok)))""",
        server.sitekey,
    )
    verdict = once(server, "recaptcha", token)
    assert verdict["action"] == "submit" and 0.0 <= verdict["score"] <= 1.0


# ------------------------------------------------------------------------------ hCaptcha


def test_hcaptcha_textareas_and_response_key(server: Server, site: SitePages, tab: Tab) -> None:
    markup = (
        f'<div class="h-captcha" data-sitekey="{server.sitekey}"></div>'
        f'<div id="inv"></div><script>function start() {{ window.inv = hcaptcha.render("inv",'
        f' {{sitekey: "{server.sitekey}", size: "invisible"}}); }}</script>'
    )
    page = open_page(
        tab,
        site,
        "/hc",
        f'<script src="{server.url}/hcaptcha/1/api.js?onload=start" async></script>',
        markup,
    )
    token = token_in(page, '.h-captcha textarea[name="h-captcha-response"]')
    assert page.locator('.h-captcha textarea[name="g-recaptcha-response"]').input_value() == token
    key = page.evaluate("hcaptcha.getRespKey()")
    assert RESPONSE_KEY.match(key), key
    once(server, "hcaptcha", token)

    answer = page.evaluate("hcaptcha.execute(window.inv, {async: true})")
    assert TOKEN.match(answer["response"]) and RESPONSE_KEY.match(answer["key"]), answer
    assert (
        answer["key"] != key and page.evaluate("hcaptcha.getRespKey(window.inv)") == answer["key"]
    )
    once(server, "hcaptcha", answer["response"])
    page.evaluate("hcaptcha.reset(window.inv)")
    assert page.evaluate("hcaptcha.getRespKey(window.inv)") == ""
    assert tab.problems == []


# ------------------------------------------------------------------------------ Turnstile


def test_turnstile_cdata_from_render_execute_and_attributes(
    server: Server, site: SitePages, tab: Tab
) -> None:
    markup = (
        f'<div class="cf-turnstile" data-sitekey="{server.sitekey}" data-cdata="attr-1"></div>'
        '<div id="explicit"></div><div id="later"></div>'
    )
    page = open_page(
        tab, site, "/ts", f'<script src="{server.url}/turnstile/v0/api.js" async></script>', markup
    )
    implicit = token_in(page, '.cf-turnstile input[name="cf-turnstile-response"]')
    assert once(server, "turnstile", implicit)["cdata"] == "attr-1"

    page.evaluate(
        "(key) => turnstile.render('#explicit', {sitekey: key, action: 'login', cData: 'render-1'})",
        server.sitekey,
    )
    rendered = token_in(page, '#explicit input[name="cf-turnstile-response"]')
    verdict = once(server, "turnstile", rendered)
    assert verdict["cdata"] == "render-1" and verdict["action"] == "login", verdict

    page.evaluate(
        """(key) => { turnstile.render('#later', {sitekey: key, execution: 'execute'});
                      turnstile.execute('#later', {cData: 'execute-1'}); }""",
        server.sitekey,
    )
    executed = token_in(page, '#later input[name="cf-turnstile-response"]')
    assert once(server, "turnstile", executed)["cdata"] == "execute-1"
    assert tab.problems == []


# ------------------------------------------------------------------------------ test sitekeys


@pytest.mark.parametrize(
    ("script", "markup", "field", "dummy", "vendor", "secret"),
    [
        (
            "/turnstile/v0/api.js",
            '<div class="cf-turnstile" data-sitekey="1x00000000000000000000AA"></div>',
            'input[name="cf-turnstile-response"]',
            "XXXX.DUMMY.TOKEN.XXXX",
            "turnstile",
            "1x0000000000000000000000000000000AA",
        ),
        (
            "/hcaptcha/1/api.js",
            '<div class="h-captcha" data-sitekey="10000000-ffff-ffff-ffff-000000000001"></div>',
            'textarea[name="h-captcha-response"]',
            "10000000-aaaa-bbbb-cccc-000000000001",
            "hcaptcha",
            "0x0000000000000000000000000000000000000000",
        ),
    ],
)
def test_vendor_test_sitekeys_hand_out_dummy_responses(
    server: Server,
    site: SitePages,
    tab: Tab,
    script: str,
    markup: str,
    field: str,
    dummy: str,
    vendor: str,
    secret: str,
) -> None:
    from playwright.sync_api import expect

    page = open_page(
        tab, site, f"/dummy-{vendor}", f'<script src="{server.url}{script}" async></script>', markup
    )
    expect(page.locator(field)).to_have_value(dummy, timeout=20_000)
    assert server.siteverify(vendor, dummy, secret=secret)["success"] is True


# ------------------------------------------------------------------------------ React wrappers


def bundle(tmp_path_factory: pytest.TempPathFactory, entry: str) -> str:
    need_node()
    out = tmp_path_factory.mktemp("bundle") / "app.js"
    build = ["node", str(COMPAT / "build.mjs"), entry, str(out)]
    subprocess.run(build, check=True, timeout=120)
    return Path(out).read_text()


@pytest.fixture(scope="module")
def react_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield bundle(tmp_path_factory, "react/app.jsx")


@pytest.fixture(scope="module")
def vue_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield bundle(tmp_path_factory, "vue/app.js")


def app_page(
    tab: Tab, site: SitePages, server: Server, bundle: str, wrapper: str, preload: str
) -> Any:
    script = "/app-" + re.sub(r"\W", "", wrapper) + ".js"
    site.add(script, bundle, content_type="text/javascript")
    head = (
        f"<script>window.compat = {{wrapper: {wrapper!r}, sitekey: {server.sitekey!r},"
        f" haechi: {server.url!r}}};</script>{preload}"
    )
    markup = f'<div id="root"></div><script src="{script}"></script>'
    return open_page(tab, site, "/page-" + re.sub(r"\W", "", wrapper), head, markup)


def calls(page: Any, kind: str) -> list[Any]:
    page.wait_for_function(
        "(kind) => window.calls.some((c) => c[0] === kind)", arg=kind, timeout=20_000
    )
    return [c for c in page.evaluate("window.calls") if c[0] == kind]


def test_react_google_recaptcha(
    server: Server, site: SitePages, tab: Tab, react_bundle: str
) -> None:
    preload = f'<script src="{server.url}/recaptcha/api.js?render=explicit"></script>'
    page = app_page(tab, site, server, react_bundle, "react-google-recaptcha", preload)
    [(_, token)] = calls(page, "change")
    assert TOKEN.match(token) and "score" not in once(server, "recaptcha", token)
    assert tab.problems == []


def test_react_google_recaptcha_v3(
    server: Server, site: SitePages, tab: Tab, react_bundle: str
) -> None:
    preload = f'<script id="google-recaptcha-v3" src="{server.url}/recaptcha/api.js?render={server.sitekey}"></script>'
    page = app_page(tab, site, server, react_bundle, "react-google-recaptcha-v3", preload)
    [(_, token)] = calls(page, "v3")
    assert once(server, "recaptcha", token)["action"] == "signup"
    assert tab.problems == []


def test_react_hcaptcha(server: Server, site: SitePages, tab: Tab, react_bundle: str) -> None:
    page = app_page(tab, site, server, react_bundle, "@hcaptcha/react-hcaptcha", "")
    [(_, token, ekey)] = calls(page, "verify")
    assert RESPONSE_KEY.match(ekey), ekey
    once(server, "hcaptcha", token)
    assert tab.problems == []


def test_react_turnstile_passes_cdata(
    server: Server, site: SitePages, tab: Tab, react_bundle: str
) -> None:
    preload = (
        f'<script id="cf-turnstile-script" src="{server.url}/turnstile/v0/api.js'
        '?onload=onloadTurnstileCallback&render=explicit"></script>'
    )
    page = app_page(tab, site, server, react_bundle, "@marsidev/react-turnstile", preload)
    [(_, token)] = calls(page, "success")
    verdict = once(server, "turnstile", token)
    assert verdict["cdata"] == "react-1" and verdict["action"] == "login", verdict
    assert tab.problems == []


# ------------------------------------------------------------------------------ Vue wrappers


def test_vue_recaptcha(server: Server, site: SitePages, tab: Tab, vue_bundle: str) -> None:
    preload = f'<script src="{server.url}/recaptcha/api.js?render=explicit"></script>'
    page = app_page(tab, site, server, vue_bundle, "vue-recaptcha", preload)
    [(_, token)] = calls(page, "verify")
    assert "score" not in once(server, "recaptcha", token)
    assert tab.problems == []


def test_vue3_hcaptcha(server: Server, site: SitePages, tab: Tab, vue_bundle: str) -> None:
    page = app_page(tab, site, server, vue_bundle, "@hcaptcha/vue3-hcaptcha", "")
    [(_, token, ekey)] = calls(page, "verify")
    assert RESPONSE_KEY.match(ekey), ekey
    once(server, "hcaptcha", token)
    assert tab.problems == []


def test_vue_turnstile(server: Server, site: SitePages, tab: Tab, vue_bundle: str) -> None:
    preload = f'<script src="{server.url}/turnstile/v0/api.js?render=explicit"></script>'
    page = app_page(tab, site, server, vue_bundle, "vue-turnstile", preload)
    [(_, token)] = calls(page, "verify")
    assert once(server, "turnstile", token)["action"] == "login"
    assert tab.problems == []
