"""Passkeys in real Chromium against `haechi serve`: Chromium's virtual authenticator (DevTools
protocol, CTAP2, internal transport, resident keys, user verification) registers a passkey
through ``navigator.credentials.create`` and signs in with it through
``navigator.credentials.get`` — usernameless, then by address; the counter it keeps grows.

Needs /usr/bin/chromium and Playwright as the widget's browser tests do (skipped without them,
failed under HAECHI_TEST_REQUIRE_BROWSER=1 / HAECHI_TEST_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e import test_widget_browser as base
from tests.e2e.server import Haechi

browser = base.browser
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    server = Haechi(tmp_path_factory.mktemp("passkeys") / "data")
    # Browsers refuse an IP address as the RP id: the public URL names localhost.
    server.env.update(
        HAECHI_PLATFORM__PUBLIC_URL=f"http://localhost:{server.port}",
        HAECHI_PLATFORM__SECURE_COOKIES="false",
        HAECHI_PLATFORM__ARGON2_TIME_COST="1",
        HAECHI_PLATFORM__ARGON2_MEMORY_KIB="1024",
        HAECHI_PLATFORM__ARGON2_PARALLELISM="1",
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


REGISTER = """async ([token, password]) => {
  const auth = {"authorization": "Bearer " + token, "content-type": "application/json"};
  const begun = await fetch("/api/v1/me/passkeys/options", {method: "POST", headers: auth,
    body: JSON.stringify({current_password: password})});
  const {options} = await begun.json();
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
  const credential = await navigator.credentials.create({publicKey});
  const reply = await fetch("/api/v1/me/passkeys", {method: "POST", headers: auth,
    body: JSON.stringify({credential: credential.toJSON(), name: "Chromium"})});
  return {status: reply.status, body: await reply.json()};
}"""

SIGN_IN = """async ([email]) => {
  const json = {"content-type": "application/json"};
  const begun = await fetch("/api/v1/auth/passkeys/options", {method: "POST", headers: json,
    body: JSON.stringify(email ? {email} : {})});
  const {options} = await begun.json();
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
  const credential = await navigator.credentials.get({publicKey});
  const reply = await fetch("/api/v1/auth/passkeys/login", {method: "POST", headers: json,
    body: JSON.stringify({credential: credential.toJSON()})});
  return {status: reply.status, body: await reply.json(), allowed: options.allowCredentials};
}"""


def test_register_and_sign_in_with_chromiums_virtual_authenticator(
    browser: Any, server: Haechi
) -> None:
    api = f"{server.url}/api/v1"
    email = "passkey.person@example.com"
    created = httpx.post(f"{api}/accounts", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = httpx.post(f"{api}/auth/login", json={"email": email, "password": PASSWORD})
    token = login.json()["access_token"]

    context = browser.new_context()
    page = context.new_page()
    origin = f"http://localhost:{server.port}"
    page.goto(f"{origin}/api/v1/meta")
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    try:
        registered = page.evaluate(REGISTER, [token, PASSWORD])
        assert registered["status"] == 201, registered
        assert registered["body"]["name"] == "Chromium"
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert len(stored["credentials"]) == 1 and stored["credentials"][0]["isResidentCredential"]

        # Usernameless: the browser finds the discoverable credential for localhost.
        first = page.evaluate(SIGN_IN, [None])
        assert first["status"] == 200, first
        assert first["allowed"] == []
        me = httpx.get(
            f"{api}/me", headers={"authorization": f"Bearer {first['body']['access_token']}"}
        )
        assert me.json()["email"] == email
        # By address: the account's credential is offered, and the counter moved on.
        second = page.evaluate(SIGN_IN, [email])
        assert second["status"] == 200, second
        assert len(second["allowed"]) == 1
        counted = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert counted["credentials"][0]["signCount"] >= 2
        listed = httpx.get(f"{api}/me/passkeys", headers={"authorization": f"Bearer {token}"})
        assert listed.json()["data"][0]["last_used_at"] is not None
    finally:
        cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})
        context.close()
