"""Compat scripts in real Chromium: pages written for reCAPTCHA, hCaptcha and Turnstile work by
changing only the script URL and the keys, and their tokens pass the matching compat siteverify.
"""

from __future__ import annotations

from typing import Any

from tests.e2e import test_widget_browser as base
from tests.e2e.test_widget_browser import TOKEN, Haechi, SitePages, Tab, human_moves, token_in

# The browser module's fixtures, shared (a tests/e2e/conftest.py could hold them instead).
browser, haechi, site, tab = base.browser, base.haechi, base.site, base.tab

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script>window.calls = [];</script>
<script src="{script}" async defer></script></head>
<body><form id="f" action="/done" method="post">{markup}<button>Send</button></form></body></html>
"""


def open_page(tab: Tab, site: SitePages, path: str, script: str, markup: str) -> Any:
    url = site.add(path, PAGE.format(title=path, script=script, markup=markup))
    tab.page.goto(url)
    human_moves(tab.page)
    return tab.page


def test_recaptcha_v2_markup_and_grecaptcha(haechi: Haechi, site: SitePages, tab: Tab) -> None:
    sitekey = haechi.demo["sitekey"]
    markup = (
        f'<div class="g-recaptcha" data-sitekey="{sitekey}" data-callback="onDone"></div>'
        f'<div id="second" class="g-recaptcha" data-sitekey="{sitekey}" data-size="invisible"></div>'
        "<script>function onDone(t) { window.calls.push(t); }</script>"
    )
    page = open_page(tab, site, "/recaptcha", f"{haechi.url}/recaptcha/api.js", markup)
    token = token_in(page, "#g-recaptcha-response")
    assert page.locator('input[name="haechi-response"]').first.input_value() == token
    assert page.evaluate("grecaptcha.getResponse()") == token
    assert page.evaluate("window.calls") == [token]
    verdict = haechi.siteverify(token, "/recaptcha/api/siteverify")
    assert verdict["success"] is True and verdict["hostname"] == "localhost", verdict

    # The invisible one (widget 1) runs on grecaptcha.execute(1); reset(0) clears widget 0.
    assert page.evaluate("grecaptcha.getResponse(1)") == ""
    page.evaluate("grecaptcha.execute(1)")
    second = token_in(page, "#g-recaptcha-response-1")
    assert haechi.siteverify(second, "/recaptcha/api/siteverify")["success"] is True
    page.evaluate("grecaptcha.reset(0)")
    # A reset managed widget runs again by itself and yields a new token.
    third = token_in(page, "#g-recaptcha-response")
    assert third != token
    assert haechi.siteverify(third, "/recaptcha/api/siteverify")["success"] is True
    assert tab.problems == []


def test_recaptcha_v3_execute_with_action(haechi: Haechi, site: SitePages, tab: Tab) -> None:
    sitekey = haechi.demo["sitekey"]
    page = open_page(
        tab, site, "/recaptcha-v3", f"{haechi.url}/recaptcha/api.js?render={sitekey}", ""
    )
    page.wait_for_function("typeof grecaptcha !== 'undefined'")
    token = page.evaluate(
        """(key) => new Promise((resolve) => grecaptcha.ready(() =>
             grecaptcha.execute(key, {action: "submit"}).then(resolve)))""",
        sitekey,
    )
    assert TOKEN.match(token)
    verdict = haechi.siteverify(token, "/recaptcha/api/siteverify")
    assert verdict["success"] is True and verdict["action"] == "submit", verdict
    # Nothing visible was rendered for v3.
    assert page.locator(".g-recaptcha").count() == 0
    assert tab.problems == []


def test_hcaptcha_markup_and_async_execute(haechi: Haechi, site: SitePages, tab: Tab) -> None:
    sitekey = haechi.demo["sitekey"]
    markup = (
        f'<div class="h-captcha" data-sitekey="{sitekey}" data-theme="dark"></div>'
        f'<div id="inv" data-sitekey="{sitekey}"></div>'
        "<script>function start() { window.invId = hcaptcha.render('inv', "
        "{sitekey: document.getElementById('inv').dataset.sitekey, size: 'invisible'}); }</script>"
    )
    page = open_page(tab, site, "/hcaptcha", f"{haechi.url}/hcaptcha/1/api.js?onload=start", markup)
    token = token_in(page, '.h-captcha textarea[name="h-captcha-response"]')
    assert page.locator('.h-captcha textarea[name="g-recaptcha-response"]').input_value() == token
    assert page.evaluate("hcaptcha.getResponse()") == token
    verdict = haechi.siteverify(token, "/hcaptcha/siteverify")
    assert verdict["success"] is True, verdict

    answer = page.evaluate("hcaptcha.execute(window.invId, {async: true})")
    assert TOKEN.match(answer["response"])
    assert haechi.siteverify(answer["response"], "/hcaptcha/siteverify")["success"] is True
    assert tab.problems == []


def test_turnstile_markup_and_explicit_render(haechi: Haechi, site: SitePages, tab: Tab) -> None:
    sitekey = haechi.demo["sitekey"]
    markup = (
        f'<div class="cf-turnstile" data-sitekey="{sitekey}" data-action="login" '
        'data-cdata="sess-1" data-callback="onTurnstile"></div>'
        '<div id="explicit"></div>'
        "<script>function onTurnstile(t) { window.calls.push(t); }</script>"
    )
    page = open_page(tab, site, "/turnstile", f"{haechi.url}/turnstile/v0/api.js", markup)
    token = token_in(page, '.cf-turnstile input[name="cf-turnstile-response"]')
    assert page.locator('.cf-turnstile input[name="haechi-response"]').input_value() == token
    assert page.evaluate("window.calls") == [token]
    verdict = haechi.siteverify(token, "/turnstile/v0/siteverify")
    assert verdict["success"] is True, verdict
    assert verdict["action"] == "login" and verdict["cdata"] == "sess-1"

    widget_id = page.evaluate(
        """(key) => turnstile.render('#explicit', {sitekey: key, 'response-field-name': 'tt',
             callback: (t) => window.calls.push('explicit:' + t)})""",
        sitekey,
    )
    second = token_in(page, '#explicit input[name="tt"]')
    assert page.evaluate("(id) => turnstile.getResponse(id)", widget_id) == second
    assert page.evaluate("(id) => turnstile.isExpired(id)", widget_id) is False
    assert haechi.siteverify(second, "/turnstile/v0/siteverify")["success"] is True
    page.evaluate("(id) => turnstile.remove(id)", widget_id)
    assert page.locator("#explicit input").count() == 0
    assert tab.problems == []
