"""Sign-in in real Chromium against `haechi serve`.

Passkeys: Chromium's virtual authenticator (DevTools protocol, CTAP2, internal transport,
resident keys, user verification) registers a passkey through ``navigator.credentials.create``
and signs in with it through ``navigator.credentials.get`` — usernameless, then by address; the
counter it keeps grows.

Google: `haechi dev fake-oidc`'s app on another site (127.0.0.1 against the server's
localhost): the browser follows /auth/google/start to the provider's form, submits it, comes
back through the callback (the binding cookie is SameSite=Lax, so it survives the cross-site
redirect) to the dashboard's /signin/google#ticket=…, and trades the ticket for a session.

Needs /usr/bin/chromium and Playwright as the widget's browser tests do (skipped without them,
failed under HAECHI_TEST_REQUIRE_BROWSER=1 / HAECHI_TEST_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from haechi.dev.fake_oidc import TEST_CLIENT_ID, TEST_CLIENT_SECRET, create_app
from tests.e2e import test_widget_browser as base
from tests.e2e.server import Haechi, free_port

browser = base.browser
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    fake = uvicorn.Server(
        uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=fake.run, daemon=True)
    thread.start()
    for _ in range(300):
        if fake.started:
            break
        time.sleep(0.05)
    yield url
    fake.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Iterator[Haechi]:
    server = Haechi(tmp_path_factory.mktemp("signin") / "data")
    # Browsers refuse an IP address as the RP id: the public URL names localhost.
    server.env.update(
        HAECHI_PLATFORM__PUBLIC_URL=f"http://localhost:{server.port}",
        HAECHI_PLATFORM__GOOGLE_CLIENT_ID=TEST_CLIENT_ID,
        HAECHI_PLATFORM__GOOGLE_CLIENT_SECRET=TEST_CLIENT_SECRET,
        HAECHI_PLATFORM__GOOGLE_DISCOVERY_URL=f"{provider}/.well-known/openid-configuration",
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


COMPLETE = """async ([ticket]) => {
  const reply = await fetch("/api/v1/auth/google/complete", {method: "POST",
    headers: {"content-type": "application/json"}, body: JSON.stringify({ticket})});
  const body = await reply.json();
  const me = await fetch("/api/v1/me", {headers: {"authorization": "Bearer " + body.access_token}});
  return {status: reply.status, me: await me.json()};
}"""


def test_sign_in_with_google_through_the_providers_form(
    browser: Any, server: Haechi, provider: str
) -> None:
    context = browser.new_context()
    # The dashboard's own /signin/google page (when built) would trade the ticket itself; a
    # blank page on the same origin leaves it to this test.
    context.route(
        "**/signin/google",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<!doctype html>"),
    )
    page = context.new_page()
    try:
        page.goto(f"http://localhost:{server.port}/api/v1/auth/google/start")
        assert page.url.startswith(provider + "/authorize?"), page.url
        page.fill("input[name=login_hint]", "browser.person@example.com")
        page.click("button")
        page.wait_for_url("**/signin/google#*")
        landed = urlsplit(page.url)
        assert landed.netloc == f"localhost:{server.port}", page.url
        assert landed.fragment.startswith("ticket="), page.url
        done = page.evaluate(COMPLETE, [landed.fragment.removeprefix("ticket=")])
        assert done["status"] == 200, done
        assert done["me"]["email"] == "browser.person@example.com"
        assert done["me"]["email_verified"] is True
        refresh = [c for c in context.cookies() if c["name"] == "haechi_refresh"]
        assert refresh and refresh[0]["httpOnly"] and refresh[0]["sameSite"] == "Strict"
    finally:
        context.close()
