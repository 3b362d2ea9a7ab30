"""TOTP two-factor sign-in with recovery codes."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration
EMAIL = "2fa@example.com"


def _login(api: Api, otp: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"email": EMAIL, "password": factories.PASSWORD}
    if otp is not None:
        body["otp"] = otp
    return body


async def test_totp_and_recovery_codes(api: Api) -> None:
    token = await api.user(EMAIL)
    setup = await api.ok("POST", "/me/totp", token=token)
    assert setup["uri"].startswith("otpauth://totp/Haechi:")
    device = pyotp.TOTP(setup["secret"])
    assert (
        await api.call("POST", "/me/totp/confirm", token=token, json={"code": "000000"})
    ).status_code in (400, 422)
    codes = (await api.ok("POST", "/me/totp/confirm", token=token, json={"code": device.now()}))[
        "recovery_codes"
    ]
    assert len(codes) == 10 and (await api.ok("GET", "/me", token=token))["two_factor"]
    # the password alone is not enough any more
    missing = await api.call("POST", "/auth/login", json=_login(api))
    assert missing.status_code == 401 and missing.json()["code"] == "otp-required"
    wrong = await api.call("POST", "/auth/login", json=_login(api, "123456"))
    assert wrong.status_code == 401 and wrong.json()["code"] == "bad-otp"
    code = device.at(time.time() + device.interval)  # the confirming step is spent already
    assert (await api.call("POST", "/auth/login", json=_login(api, code))).status_code == 200
    replay = await api.call("POST", "/auth/login", json=_login(api, code))
    assert replay.status_code == 401 and replay.json()["code"] == "bad-otp"
    # a recovery code works once
    assert (await api.call("POST", "/auth/login", json=_login(api, codes[0]))).status_code == 200
    assert (await api.call("POST", "/auth/login", json=_login(api, codes[0]))).status_code == 401
    # off again with the password and a recovery code
    await api.ok(
        "POST",
        "/me/totp/disable",
        token=token,
        json={"current_password": factories.PASSWORD, "otp": codes[1]},
    )
    assert (await api.call("POST", "/auth/login", json=_login(api))).status_code == 200


async def test_non_ascii_digits_are_a_wrong_code_not_a_500(api: Api) -> None:
    token = await api.user("2fa-digits@example.com")
    setup = await api.ok("POST", "/me/totp", token=token)
    device = pyotp.TOTP(setup["secret"])
    await api.ok("POST", "/me/totp/confirm", token=token, json={"code": device.now()})
    body = {"email": "2fa-digits@example.com", "password": factories.PASSWORD}
    for otp in ("\u0661\u0662\u0663\u0664\u0665\u0666", "\u00b9\u00b2\u00b3\u2074\u2075\u2076"):
        answer = await api.call("POST", "/auth/login", json={**body, "otp": otp})
        assert answer.status_code == 401 and answer.json()["code"] == "bad-otp"
        disable = await api.call(
            "POST",
            "/me/totp/disable",
            token=token,
            json={"current_password": factories.PASSWORD, "otp": otp},
        )
        assert disable.status_code == 401 and disable.json()["code"] == "bad-otp"
