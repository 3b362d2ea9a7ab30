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
