"""Sign in with Google against the loopback OpenID provider (haechi.dev.fake_oidc) over real
HTTP: discovery, the authorization redirect with state/nonce/PKCE, the code exchange with the
verifier and client authentication, the ID token's signature from the JWKS and its claims;
linking by verified address only; two-factor sign-in still asked; the attacks refused."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
import pyotp
import pytest
import sqlalchemy as sa
import uvicorn
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from haechi.dev.fake_oidc import TEST_CLIENT_ID, TEST_CLIENT_SECRET, FakeOidc, create_app
from haechi.platform.accounts.models import User
from haechi.platform.audit.models import AuditEvent
from haechi.platform.auth import google
from tests.integration.platform.authenticator import Authenticator
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration
ONE_BACKEND = pytest.mark.parametrize("api", ["sqlite+memory"], indirect=True)


@dataclass
class Provider:
    url: str
    oidc: FakeOidc
    http: httpx.AsyncClient  # the browser's side: real HTTP to the provider


@pytest.fixture
async def provider(api: Api) -> AsyncIterator[Provider]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    app = create_app(url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    saved = api.runtime.settings.platform
    api.runtime.settings.platform = saved.model_copy(
        update={
            "google_client_id": TEST_CLIENT_ID,
            "google_client_secret": TEST_CLIENT_SECRET,
            "google_discovery_url": f"{url}/.well-known/openid-configuration",
        }
    )
    google.clear_cache()
    try:
        async with httpx.AsyncClient() as http:
            yield Provider(url, app.state.oidc, http)
    finally:
        api.runtime.settings.platform = saved
        google.clear_cache()
        server.should_exit = True
        await task


def fragment(reply: httpx.Response) -> dict[str, str]:
    assert reply.status_code == 302, reply.text
    target = urlsplit(reply.headers["location"])
    assert target.path == "/signin/google", target
    return {k: v[0] for k, v in parse_qs(target.fragment).items()}


async def start(api: Api, provider: Provider, email: str) -> tuple[str, dict[str, str]]:
    """/auth/google/start, then the provider's authorization endpoint (auto-approving for
    ``login_hint``): the redirect back's URL (path and query) and the authorization request."""
    begun = await api.http.get("/api/v1/auth/google/start")
    assert begun.status_code == 302, begun.text
    assert api.http.cookies.get(google.BINDING_COOKIE)
    authorize = urlsplit(begun.headers["location"])
    request = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert request["code_challenge_method"] == "S256" and len(request["code_challenge"]) == 43
    assert request["state"] and request["nonce"] and "openid" in request["scope"]
    approved = await provider.http.get(
        begun.headers["location"] + "&" + str(httpx.QueryParams({"login_hint": email})),
        follow_redirects=False,
    )
    assert approved.status_code == 302, approved.text
    back = urlsplit(approved.headers["location"])
    assert back.path == "/api/v1/auth/google/callback"
    return f"{back.path}?{back.query}", request


async def callback(api: Api, where: str) -> dict[str, str]:
    return fragment(await api.http.get(where))


async def sign_in(api: Api, provider: Provider, email: str) -> dict[str, str]:
    where, _ = await start(api, provider, email)
    return await callback(api, where)


async def complete(api: Api, ticket: str, otp: str | None = None) -> httpx.Response:
    body = {"ticket": ticket} | ({"otp": otp} if otp else {})
    return await api.call("POST", "/auth/google/complete", json=body)


@ONE_BACKEND
async def test_a_new_account_is_created_verified_and_signed_in(
    api: Api, provider: Provider
) -> None:
    assert (await api.ok("GET", "/auth/methods"))["google"] is True
    result = await sign_in(api, provider, "new.person@example.com")
    assert "ticket" in result, result
    reply = await complete(api, result["ticket"])
    assert reply.status_code == 200, reply.text
    assert api.http.cookies.get("haechi_refresh")
    token = reply.json()["access_token"]
    assert pyjwt.decode(token, options={"verify_signature": False})["ep"] == api.runtime.store.epoch
    me = await api.ok("GET", "/me", token=token)
    assert me["email"] == "new.person@example.com" and me["email_verified"] is True
    assert me["has_password"] is False
    linked = await api.ok("GET", "/me/google", token=token)
    assert [i["email"] for i in linked["data"]] == ["new.person@example.com"]
    # The ticket works once.
    again = await complete(api, result["ticket"])
    assert again.status_code == 401 and again.json()["code"] == "invalid-ticket"
    # The same Google account signs in to the same account next time.
    second = await complete(api, (await sign_in(api, provider, "new.person@example.com"))["ticket"])
    assert (await api.ok("GET", "/me", token=second.json()["access_token"]))["id"] == me["id"]
    async with api.db() as db:
        actions = set(
            await db.scalars(sa.select(AuditEvent.action).where(AuditEvent.actor_id == me["id"]))
        )
    assert {"account.create-google", "auth.google-link", "auth.google-login"} <= actions
    # The account has no password: unlinking its only way in is refused...
    identity = linked["data"][0]["id"]
    refused = await api.call("DELETE", f"/me/google/{identity}", token=token)
    assert refused.status_code == 409 and refused.json()["code"] == "last-sign-in-method"
    # ... until it has a passkey, which a fresh session adds without a password.
    device = Authenticator("https://dash.example.com")
    options = (await api.ok("POST", "/me/passkeys/options", token=token, json={}))["options"]
    added = await api.call(
        "POST", "/me/passkeys", token=token, json={"credential": device.create(options)}
    )
    assert added.status_code == 201, added.text
    assert (await api.call("DELETE", f"/me/google/{identity}", token=token)).status_code == 204
    passkey = added.json()["id"]
    last = await api.call("DELETE", f"/me/passkeys/{passkey}", token=token)
    assert last.status_code == 409 and last.json()["code"] == "last-sign-in-method"


@ONE_BACKEND
async def test_links_a_verified_account_and_keeps_two_factor(api: Api, provider: Provider) -> None:
    token = await api.user("owner@example.com")
    setup = await api.ok("POST", "/me/totp", token=token)
    totp = pyotp.TOTP(setup["secret"])
    await api.ok("POST", "/me/totp/confirm", token=token, json={"code": totp.now()})
    result = await sign_in(api, provider, "owner@example.com")
    needs = await complete(api, result["ticket"])
    assert needs.status_code == 401 and needs.json()["code"] == "otp-required"
    # The ticket survives the question; the code from the next time step answers it (the
    # current one was spent by the confirmation).
    code = totp.at(time.time() + 30)
    done = await complete(api, result["ticket"], code)
    assert done.status_code == 200, done.text
    me = await api.ok("GET", "/me", token=done.json()["access_token"])
    assert me["email"] == "owner@example.com" and me["two_factor"] is True


@ONE_BACKEND
async def test_unverified_addresses_are_not_linked(api: Api, provider: Provider) -> None:
    # The provider has not verified the address: no account is found, made or linked.
    await api.user("victim@example.com")
    provider.oidc.unverified.add("victim@example.com")
    result = await sign_in(api, provider, "victim@example.com")
    assert result == {"error": "email-not-verified"}
    provider.oidc.unverified.add("nobody@example.com")
    assert (await sign_in(api, provider, "nobody@example.com")) == {"error": "email-not-verified"}
    # The account here has not verified its address (someone may have signed up with an
    # address they do not own): no link either.
    await api.signup("unproven@example.com")
    assert (await sign_in(api, provider, "unproven@example.com")) == {
        "error": "account-not-verified"
    }
    async with api.db() as db:
        count = await db.scalar(sa.select(sa.func.count()).select_from(google.OidcIdentity))
        assert count == 0
        assert await db.scalar(sa.select(User).where(User.email == "nobody@example.com")) is None


def binding(api: Api) -> str:
    value = api.http.cookies.get(google.BINDING_COOKIE)
    assert value
    return value


def set_binding(api: Api, value: str) -> None:
    api.http.cookies.delete(google.BINDING_COOKIE)
    api.http.cookies.set(
        google.BINDING_COOKIE, value, domain="haechi.test", path=google.BINDING_PATH
    )


def with_params(where: str, **changes: str) -> str:
    path, _, query = where.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()} | changes
    return path + "?" + str(httpx.QueryParams(params))


@ONE_BACKEND
async def test_wrong_or_replayed_state_is_refused(api: Api, provider: Provider) -> None:
    where, _ = await start(api, provider, "state@example.com")
    mine = binding(api)
    assert await callback(api, with_params(where, state="x" * 43)) == {"error": "bad-state"}
    # Another browser (another binding cookie, or none) cannot use this browser's callback...
    set_binding(api, "someone-else" * 4)
    assert await callback(api, where) == {"error": "bad-state"}
    api.http.cookies.delete(google.BINDING_COOKIE)
    assert await callback(api, where) == {"error": "bad-state"}
    # ... nor spoil it for the rightful browser, whose callback works once.
    set_binding(api, mine)
    assert "ticket" in await callback(api, where)
    set_binding(api, mine)
    assert await callback(api, where) == {"error": "bad-state"}
    # The provider's refusal comes back as such.
    assert await callback(api, with_params(where, error="access_denied")) == {
        "error": "provider-refused"
    }


@ONE_BACKEND
async def test_replayed_code_and_wrong_verifier_are_refused(api: Api, provider: Provider) -> None:
    # The token endpoint itself: a code works once, and only with its verifier.
    where, request = await start(api, provider, "pkce@example.com")
    code = parse_qs(urlsplit(where).query)["code"][0]
    auth = (TEST_CLIENT_ID, TEST_CLIENT_SECRET)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request["redirect_uri"],
    }
    wrong = await provider.http.post(
        f"{provider.url}/token", data=form | {"code_verifier": "w" * 64}, auth=auth
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # That code was spent by the failed try: the callback cannot redeem it.
    assert await callback(api, where) == {"error": "code-refused"}
    # A code redeemed by the callback cannot be redeemed again.
    where, request = await start(api, provider, "pkce@example.com")
    code = parse_qs(urlsplit(where).query)["code"][0]
    assert "ticket" in await callback(api, where)
    replay = await provider.http.post(
        f"{provider.url}/token", data=form | {"code": code, "code_verifier": "v" * 64}, auth=auth
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    bad_client = await provider.http.post(
        f"{provider.url}/token", data=form, auth=(TEST_CLIENT_ID, "wrong-secret")
    )
    assert bad_client.status_code == 401

    # Code injection: an attacker's code pushed into the victim's flow is exchanged with the
    # victim's verifier, which does not match the challenge of the attacker's flow.
    victim, _ = await start(api, provider, "victim2@example.com")
    victim_binding = binding(api)
    attacker, _ = await start(api, provider, "attacker@example.com")
    attacker_code = parse_qs(urlsplit(attacker).query)["code"][0]
    set_binding(api, victim_binding)
    assert await callback(api, with_params(victim, code=attacker_code)) == {"error": "code-refused"}
    async with api.db() as db:
        assert await db.scalar(sa.select(User).where(User.email == "attacker@example.com")) is None


@ONE_BACKEND
async def test_bad_nonce_and_unknown_key_are_refused(api: Api, provider: Provider) -> None:
    provider.oidc.overrides = {"nonce": "someone-elses-nonce"}
    assert await sign_in(api, provider, "nonce@example.com") == {"error": "bad-id-token"}
    provider.oidc.overrides = {"aud": "another-client"}
    assert await sign_in(api, provider, "aud@example.com") == {"error": "bad-id-token"}
    provider.oidc.overrides = {"iss": "https://evil.example"}
    assert await sign_in(api, provider, "iss@example.com") == {"error": "bad-id-token"}
    provider.oidc.overrides = {"exp": 1_000_000_000}
    assert await sign_in(api, provider, "exp@example.com") == {"error": "bad-id-token"}
    provider.oidc.overrides = {}
    # Signed by a key the JWKS does not hold (same kid).
    provider.oidc.rogue_key = RSAKey.generate_key(2048, parameters={"kid": provider.oidc.key.kid})
    assert await sign_in(api, provider, "rogue@example.com") == {"error": "bad-id-token"}
    provider.oidc.rogue_key = None
    # HS256 "signed" with the client secret (which we hold too), and garbage: refused.
    secret = OctKey.import_key(TEST_CLIENT_SECRET.encode())
    forged = jwt.encode({"alg": "HS256"}, {"iss": provider.url, "aud": TEST_CLIENT_ID}, secret)
    provider.oidc.id_token = lambda grant: forged  # type: ignore[method-assign]
    assert await sign_in(api, provider, "hs256@example.com") == {"error": "bad-id-token"}
    provider.oidc.id_token = lambda grant: "not.a.jwt"  # type: ignore[method-assign]
    assert await sign_in(api, provider, "garbage@example.com") == {"error": "bad-id-token"}
    del provider.oidc.id_token
    assert "ticket" in await sign_in(api, provider, "fine@example.com")
    async with api.db() as db:
        emails = set(await db.scalars(sa.select(User.email)))
    assert not emails & {
        "nonce@example.com",
        "rogue@example.com",
        "aud@example.com",
        "hs256@example.com",
    }


@ONE_BACKEND
async def test_off_unless_configured(api: Api) -> None:
    assert (await api.ok("GET", "/auth/methods"))["google"] is False
    reply = await api.call("GET", "/auth/google/start")
    assert reply.status_code == 404 and reply.json()["code"] == "google-disabled"


def test_the_fake_provider_runs_from_the_cli_and_is_refused_in_production() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAECHI_")}
    command = [sys.executable, "-m", "haechi.cli", "dev", "fake-oidc", "--port", str(port)]
    refused = subprocess.run(
        command, env=env | {"HAECHI_ENV": "production"}, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and "refused" in refused.stderr
    served = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                document = httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).json()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert document["issuer"] == url and document["code_challenge_methods_supported"] == [
            "S256"
        ]
        keys = httpx.get(document["jwks_uri"]).json()["keys"]
        assert keys[0]["kty"] == "RSA" and "d" not in keys[0]
    finally:
        served.terminate()
        served.wait(timeout=15)
