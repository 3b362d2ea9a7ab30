"""Python server libraries (PyPI, the `compat` extra) against Haechi's siteverify dialects.

Each test: a fresh token is accepted once through the library's own call, and the replay is
refused with the vendor's code. Settings and workarounds are the ones docs/api-dialects.md gives.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from .conftest import PATHS, REPLAY_CODE, Server, TlsFront, drf_validate, need_module

# ------------------------------------------------------------------------------ django-recaptcha


def test_django_recaptcha_v2_checkbox(
    django_settings: None, trust: TlsFront, server: Server
) -> None:
    from django.core.exceptions import ValidationError
    from django_recaptcha import client
    from django_recaptcha.fields import ReCaptchaField
    from django_recaptcha.widgets import ReCaptchaV2Checkbox

    field = ReCaptchaField(widget=ReCaptchaV2Checkbox)
    token = server.mint(api="recaptcha-v2")
    assert field.clean(token) == token
    with pytest.raises(ValidationError):
        field.clean(token)
    replay = client.submit(token, private_key=server.secret, remoteip=None)
    assert replay.is_valid is False and replay.error_codes == [REPLAY_CODE["recaptcha"]]


def test_django_recaptcha_v3_with_action_and_score(
    django_settings: None, trust: TlsFront, server: Server
) -> None:
    from django.core.exceptions import ValidationError
    from django_recaptcha.fields import ReCaptchaField
    from django_recaptcha.widgets import ReCaptchaV3

    field = ReCaptchaField(widget=ReCaptchaV3(action="signup", attrs={"required_score": 0.0}))
    token = server.mint(action="signup")
    assert field.clean(token) == token
    with pytest.raises(ValidationError):
        field.clean(token)
    # A v3 widget that asked for another action is refused, as Google's answer would make it.
    with pytest.raises(ValidationError):
        field.clean(server.mint(action="login"))


# ------------------------------------------------------------------------------ drf-recaptcha


def test_drf_recaptcha_v2_field_accepts_a_v2_widgets_token(
    django_settings: None, trust: TlsFront, server: Server
) -> None:
    """The case that broke: a `score` in every answer made ReCaptchaV2Field refuse each token."""
    from drf_recaptcha import client
    from drf_recaptcha.fields import ReCaptchaV2Field

    token = server.mint(api="recaptcha-v2")
    ok, form = drf_validate(ReCaptchaV2Field, token)
    assert ok, form.errors
    ok, form = drf_validate(ReCaptchaV2Field, token)
    assert not ok and "recaptcha" in form.errors
    replay = client.submit(token, secret_key=server.secret, remoteip="203.0.113.9")
    assert replay.error_codes == [REPLAY_CODE["recaptcha"]]


def test_drf_recaptcha_v3_field_reads_the_score(
    django_settings: None, trust: TlsFront, server: Server
) -> None:
    from drf_recaptcha.fields import ReCaptchaV3Field

    token = server.mint(action="signup")
    ok, form = drf_validate(ReCaptchaV3Field, token, action="signup", required_score=0.0)
    assert ok, form.errors
    assert 0.0 <= form.fields["recaptcha"].score <= 1.0
    ok, _ = drf_validate(ReCaptchaV3Field, token, action="signup", required_score=0.0)
    assert not ok


# ------------------------------------------------------------------------------ hCaptcha


def test_flask_hcaptcha(server: Server) -> None:
    need_module("flask_hcaptcha")
    from flask import Flask
    from flask_hcaptcha import hCaptcha

    app = Flask(__name__)
    app.config.update(HCAPTCHA_SITE_KEY=server.sitekey, HCAPTCHA_SECRET_KEY=server.secret)
    hcaptcha = hCaptcha(app)
    hcaptcha.VERIFY_URL = server.url + PATHS["hcaptcha"]  # the class's setting, per instance
    token = server.mint()
    with app.test_request_context("/", method="POST", data={"h-captcha-response": token}):
        assert hcaptcha.verify() is True
        assert hcaptcha.verify() is False
    assert server.siteverify("hcaptcha", token)["error-codes"] == [REPLAY_CODE["hcaptcha"]]


def test_hcaptcha_verifier(server: Server) -> None:
    need_module("hcaptcha")
    from hcaptcha.hcaptcha import HCaptchaVerifier

    verifier = HCaptchaVerifier(server.secret)
    verifier.verification_url = server.url + PATHS["hcaptcha"]
    token = server.mint()
    # hcaptcha 0.2.1 answers a dict, whatever its docstring says.
    assert asyncio.run(verifier.verify(token)) == {"success": True}
    assert asyncio.run(verifier.verify(token)) == {
        "success": False,
        "errors": [REPLAY_CODE["hcaptcha"]],
    }


# ------------------------------------------------------------------------------ Turnstile


def test_flask_turnstile(server: Server) -> None:
    need_module("flask_turnstile")
    from flask import Flask
    from flask_turnstile import Turnstile

    app = Flask(__name__)
    app.config.update(TURNSTILE_SITE_KEY=server.sitekey, TURNSTILE_SECRET_KEY=server.secret)
    turnstile = Turnstile(app)
    turnstile.VERIFY_URL = server.url + PATHS["turnstile"]
    token = server.mint(action="login", cdata="sess-1")
    with app.test_request_context("/", method="POST", data={"cf-turnstile-response": token}):
        first = turnstile.get_response()
        assert first["success"] is True and first["cdata"] == "sess-1", first
        assert turnstile.get_response()["error-codes"] == [REPLAY_CODE["turnstile"]]


class _ToHaechi(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Sends the request for Cloudflare's host to Haechi instead: what a forwarding proxy does
    for a library that hard-codes the vendor's URL (pyturnstile)."""

    def __init__(self, base: str) -> None:
        self.base = httpx.URL(base)

    def _route(self, request: httpx.Request) -> httpx.Request:
        assert request.url.host == "challenges.cloudflare.com", request.url
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        request.headers["host"] = f"{self.base.host}:{self.base.port}"
        return request

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.HTTPTransport().handle_request(self._route(request))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await httpx.AsyncHTTPTransport().handle_async_request(self._route(request))


def test_pyturnstile(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    need_module("pyturnstile")
    import pyturnstile
    from pyturnstile import _core

    token = server.mint(action="login", cdata="sess-1")
    transport = _ToHaechi(server.url)

    class Client(httpx.Client):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(transport=transport, **kwargs)

    monkeypatch.setattr(_core.httpx, "Client", Client)
    turnstile = pyturnstile.Turnstile(server.secret)
    first = turnstile.validate(token, expected_action="login")
    assert first.success is True and first.cdata == "sess-1", first.to_dict()
    second = turnstile.validate(token)
    assert second.success is False and second.error_codes == [REPLAY_CODE["turnstile"]]
