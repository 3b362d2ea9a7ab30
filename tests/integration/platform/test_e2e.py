"""The acceptance path, end to end, on the embedded defaults and on PostgreSQL + Redis: sign up,
verify from a real SMTP capture, sign in, create an org, invite a second user who accepts,
create a site, rotate its secret, a read-only API key reads sites and is refused a write, and a
widget token for the site verifies at /siteverify."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from haechi.app import create_app
from haechi.client import asolve
from haechi.core.settings import PlanBand, PolicySettings
from haechi.runtime import Runtime
from tests.conftest import POSTGRES_URL, _create_database, _drop_database, unique
from tests.integration.platform.conftest import CLIENT, _store, platform_settings
from tests.integration.platform.driver import Api, token_from
from tests.integration.platform.smtp import SmtpServer

pytestmark = pytest.mark.integration
PASSWORD = "a long enough passphrase"
ORIGIN = "https://shop.example.com"


@pytest.fixture(params=["sqlite+memory", "postgres+redis"])
async def live(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Api, SmtpServer]]:
    backend, store_kind = request.param.split("+")
    name = ""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    else:
        name = unique("haechi_live")
        try:
            url = await _create_database(POSTGRES_URL, name)
        except Exception as error:
            from tests.conftest import unavailable

            unavailable(backend, error)
    store = await _store(store_kind)
    with SmtpServer() as smtp:
        settings = platform_settings(
            tmp_path / "data",
            url,
            email={"backend": "smtp", "smtp": {"port": smtp.port, "security": "none"}},
            policy=PolicySettings(
                bands=[PlanBand(max_risk=100, pow_bits=4, pow_count=1)],
            ),
        )
        runtime = Runtime.build(settings, store=store)
        await runtime.start()
        app = create_app(settings, runtime=runtime)
        app.state.runtime = runtime
        transport = httpx.ASGITransport(app=app, client=CLIENT)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://haechi.test"
            ) as http:
                yield Api(runtime, http), smtp
        finally:
            await runtime.close()
            if store_kind == "redis":
                await store.flush_prefix()
            await store.close()
            if name:
                await _drop_database(POSTGRES_URL, name)


async def _mailed_token(smtp: SmtpServer, to: str, subject: str) -> str:
    message = await smtp.inbox.wait_for(to, subject)
    return token_from(smtp.inbox.text(message))


async def test_sign_up_to_siteverify(live: tuple[Api, SmtpServer]) -> None:
    api, smtp = live
    # 1. sign up and verify from the mail the SMTP server received
    await api.signup("owner@example.com", PASSWORD)
    token = await _mailed_token(smtp, "owner@example.com", "Confirm your e-mail")
    await api.ok("POST", "/accounts/verify-email", json={"token": token})
    owner = await api.login("owner@example.com", PASSWORD)
    # 2. an organisation, and a second user invited by mail who accepts
    org = await api.ok("POST", "/orgs", token=owner, json={"name": "Shop Inc"})
    org_id = org["id"]
    await api.ok(
        "POST",
        f"/orgs/{org_id}/invitations",
        token=owner,
        json={"email": "dev@example.com", "role": "developer"},
    )
    invite = await _mailed_token(smtp, "dev@example.com", "invited")
    await api.signup("dev@example.com", PASSWORD, locale="ko")
    await api.ok(
        "POST",
        "/accounts/verify-email",
        json={"token": await _mailed_token(smtp, "dev@example.com", "이메일")},
    )
    dev = await api.login("dev@example.com", PASSWORD)
    joined = await api.ok("POST", "/invitations/accept", token=dev, json={"token": invite})
    assert joined["id"] == org_id and joined["role"] == "developer"
    again = await api.call("POST", "/invitations/accept", token=dev, json={"token": invite})
    assert again.status_code == 400
    members = await api.ok("GET", f"/orgs/{org_id}/members", token=owner)
    assert {m["email"]: m["role"] for m in members["data"]} == {
        "owner@example.com": "owner",
        "dev@example.com": "developer",
    }
    # 3. a site at the friction-free test level, created by the developer; its secret rotated
    site = await api.ok(
        "POST",
        f"/orgs/{org_id}/sites",
        token=dev,
        json={"name": "Shop", "hostnames": ["shop.example.com"], "security_level": "test"},
    )
    first_secret = site["secret"]
    rotated = await api.ok("POST", f"/orgs/{org_id}/sites/{site['id']}/rotate-secret", token=dev)
    secret = rotated["secret"]
    assert secret != first_secret and rotated["previous_secret_expires_at"]
    listed = await api.ok("GET", f"/orgs/{org_id}/sites", token=owner)
    assert "secret" not in listed["data"][0]
    # 4. a read-only API key reads the sites and is refused a write
    key = await api.ok(
        "POST", f"/orgs/{org_id}/api-keys", token=owner, json={"name": "ci", "scopes": ["read"]}
    )
    assert key["key"].startswith("hak_")
    by_key = await api.ok("GET", f"/orgs/{org_id}/sites", token=key["key"])
    assert [s["sitekey"] for s in by_key["data"]] == [site["sitekey"]]
    refused = await api.call(
        "POST",
        f"/orgs/{org_id}/sites",
        token=key["key"],
        json={"name": "X", "hostnames": ["x.example.com"]},
    )
    assert refused.status_code == 403
    keys = await api.ok("GET", f"/orgs/{org_id}/api-keys", token=owner)
    assert keys["data"][0]["last_used_at"] and keys["data"][0]["last_used_ip"] == CLIENT[0]
    assert "key" not in keys["data"][0]
    # 5. a widget token for the site verifies at /siteverify (with the new secret)
    widget_token = await asolve(
        url="http://haechi.test", sitekey=site["sitekey"], origin=ORIGIN, client=api.http
    )
    verdict = (
        await api.http.post("/siteverify", data={"secret": secret, "response": widget_token})
    ).json()
    assert verdict["success"] is True, verdict
    # 6. the audit log saw it all, secrets masked
    audit = await api.ok("GET", f"/orgs/{org_id}/audit", token=owner, params={"limit": 50})
    actions = [e["action"] for e in audit["data"]]
    for action in (
        "org.create",
        "invitation.create",
        "invitation.accept",
        "site.create",
        "site.rotate-secret",
        "api-key.create",
    ):
        assert action in actions
    assert (
        secret not in str(audit) and first_secret not in str(audit) and key["key"] not in str(audit)
    )


async def test_a_suspended_orgs_sitekeys_fail_closed_at_once(live: tuple[Api, SmtpServer]) -> None:
    from tests import factories

    api, _ = live
    async with api.db() as db:
        operator = await factories.user(db, operator=True)
        owner = await factories.user(db)
        org = await factories.org(db, owner=owner)
        made = await factories.site(db, org=org, pepper=api.runtime.pepper, security_level="test")
        op_token = await factories.access_token(db, user=operator, keyring=api.runtime.keyring)
    sitekey, secret = made.site.sitekey, made.secret
    token = await asolve(url="http://haechi.test", sitekey=sitekey, origin=ORIGIN, client=api.http)
    await api.ok("POST", f"/admin/orgs/{org.id}/suspend", token=op_token)
    refused = await api.http.post(
        "/v1/challenge", json={"v": 1, "sitekey": sitekey}, headers={"origin": ORIGIN}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "site-suspended"
    verdict = (
        await api.http.post("/siteverify", data={"secret": secret, "response": token})
    ).json()
    assert verdict["success"] is False and verdict["error-codes"] == ["invalid-input-secret"]
    await api.ok("POST", f"/admin/orgs/{org.id}/unsuspend", token=op_token)
    again = await asolve(url="http://haechi.test", sitekey=sitekey, origin=ORIGIN, client=api.http)
    assert (await api.http.post("/siteverify", data={"secret": secret, "response": again})).json()[
        "success"
    ]
