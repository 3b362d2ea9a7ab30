"""IP rules over the API (every backend) and at the edge (embedded defaults and PostgreSQL +
Redis): a denied address gets the documented block answer at once, an allowed one skips
friction only where the site's policy says so, and an expired rule stops applying without a
reload."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from haechi.client import asolve
from haechi.core.db import utcnow
from tests import factories
from tests.integration.platform.conftest import CLIENT
from tests.integration.platform.driver import Api
from tests.integration.platform.smtp import SmtpServer
from tests.integration.platform.test_e2e import ORIGIN, live  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


async def _owner_site(api: Api, **site: Any) -> tuple[str, str, Any]:
    async with api.db() as db:
        owner = await factories.user(db)
        org = await factories.org(db, owner=owner)
        made = await factories.site(db, org=org, pepper=api.runtime.pepper, **site)
        token = await factories.access_token(db, user=owner, keyring=api.runtime.keyring)
    return token, str(org.id), made


async def test_rules_crud_paging_etags_and_audit(api: Api) -> None:
    token, org, made = await _owner_site(api)
    site = made.site.id
    org_rule = await api.ok(
        "POST",
        f"/orgs/{org}/ip-rules",
        token=token,
        json={"action": "deny", "cidr": "2001:DB8::/32", "note": "scrapers"},
        headers={"idempotency-key": "rule-1"},
    )
    assert org_rule["site_id"] is None and org_rule["cidr"] == "2001:db8::/32"
    again = await api.call(
        "POST",
        f"/orgs/{org}/ip-rules",
        token=token,
        json={"action": "deny", "cidr": "2001:DB8::/32", "note": "scrapers"},
        headers={"idempotency-key": "rule-1"},
    )
    assert again.json()["id"] == org_rule["id"] and again.headers["idempotent-replayed"] == "true"
    for cidr in ("203.0.113.0/24", "198.51.100.9"):
        created = await api.ok(
            "POST",
            f"/orgs/{org}/sites/{site}/ip-rules",
            token=token,
            json={"action": "allow", "cidr": cidr},
        )
        assert created["site_id"] == str(site)
    # the organisation's list holds only organisation-wide rules; the site's list pages
    listed = await api.ok("GET", f"/orgs/{org}/ip-rules", token=token)
    assert [r["id"] for r in listed["data"]] == [org_rule["id"]]
    first = await api.ok("GET", f"/orgs/{org}/sites/{site}/ip-rules?limit=1", token=token)
    assert len(first["data"]) == 1 and first["next_cursor"]
    rest = await api.ok(
        "GET",
        f"/orgs/{org}/sites/{site}/ip-rules",
        token=token,
        params={"limit": 1, "cursor": first["next_cursor"]},
    )
    assert rest["next_cursor"] is None
    assert {first["data"][0]["cidr"], rest["data"][0]["cidr"]} == {
        "203.0.113.0/24",
        "198.51.100.9/32",
    }
    # ETag and If-Match
    read = await api.call("GET", f"/orgs/{org}/ip-rules/{org_rule['id']}", token=token)
    stale = await api.call(
        "PATCH",
        f"/orgs/{org}/ip-rules/{org_rule['id']}",
        token=token,
        json={"note": "x"},
        headers={"if-match": '"nope"'},
    )
    assert stale.status_code == 412
    changed = await api.call(
        "PATCH",
        f"/orgs/{org}/ip-rules/{org_rule['id']}",
        token=token,
        json={"action": "allow", "note": None},
        headers={"if-match": read.headers["etag"]},
    )
    assert changed.status_code == 200 and changed.headers["etag"] != read.headers["etag"]
    assert changed.json()["action"] == "allow" and changed.json()["note"] is None
    # the site's policy: off by default, set with If-Match
    policy = await api.call("GET", f"/orgs/{org}/sites/{site}/ip-policy", token=token)
    assert policy.json() == {"site_id": str(site), "allow_skips_friction": False}
    await api.ok(
        "PUT",
        f"/orgs/{org}/sites/{site}/ip-policy",
        token=token,
        json={"allow_skips_friction": True},
        headers={"if-match": policy.headers["etag"]},
    )
    stale_policy = await api.call(
        "PUT",
        f"/orgs/{org}/sites/{site}/ip-policy",
        token=token,
        json={"allow_skips_friction": False},
        headers={"if-match": policy.headers["etag"]},
    )
    assert stale_policy.status_code == 412
    # bad input is a 4xx with a clear message
    for body, status in (
        ({"action": "deny", "cidr": "10.0.0.1/8"}, 422),
        ({"action": "deny", "cidr": "not-an-ip"}, 422),
        ({"action": "block", "cidr": "10.0.0.0/8"}, 422),
        ({"action": "deny", "cidr": "10.0.0.0/8", "extra": 1}, 422),
        ({"action": "deny", "cidr": "10.0.0.0/8", "expires_at": "2001-01-01T00:00:00Z"}, 400),
    ):
        reply = await api.call("POST", f"/orgs/{org}/ip-rules", token=token, json=body)
        assert reply.status_code == status, (body, reply.text)
    bad = await api.call(
        "POST", f"/orgs/{org}/ip-rules", token=token, json={"action": "deny", "cidr": "10.0.0.1/8"}
    )
    assert "did you mean 10.0.0.0/8" in bad.text
    # delete, then it is gone
    await api.ok("DELETE", f"/orgs/{org}/ip-rules/{org_rule['id']}", token=token)
    gone = await api.call("GET", f"/orgs/{org}/ip-rules/{org_rule['id']}", token=token)
    assert gone.status_code == 404
    audit = await api.ok("GET", f"/orgs/{org}/audit", token=token, params={"limit": 50})
    actions = [e["action"] for e in audit["data"]]
    for action in ("ip-rule.create", "ip-rule.update", "ip-rule.delete", "site.ip-policy"):
        assert action in actions


async def _challenge(api: Api, sitekey: str) -> Any:
    return await api.http.post(
        "/v1/challenge", json={"v": 1, "sitekey": sitekey}, headers={"origin": ORIGIN}
    )


async def test_the_edge_blocks_allows_and_expires(live: tuple[Api, SmtpServer]) -> None:  # noqa: F811
    api, _ = live
    token, org, made = await _owner_site(api)
    sitekey, site = made.site.sitekey, made.site.id
    before = await _challenge(api, sitekey)
    assert before.status_code == 200 and before.json()["pow"]["bits"] == 4
    pending = before.json()
    # a deny rule for the client's /24 reaches the edge at once
    deny = await api.ok(
        "POST",
        f"/orgs/{org}/sites/{site}/ip-rules",
        token=token,
        json={"action": "deny", "cidr": "198.51.100.0/24"},
    )
    blocked = await _challenge(api, sitekey)
    assert blocked.status_code == 403, blocked.text
    assert blocked.json()["error"]["code"] == "ip-blocked"
    # a challenge fetched before the rule cannot be solved either (the address is refused
    # before the work is checked, so the nonces do not matter)
    solved = await api.http.post(
        "/v1/solve",
        json={"v": 1, "challenge": pending["challenge"], "pow": [0]},
        headers={"origin": ORIGIN},
    )
    assert solved.json()["outcome"] == "fail" and solved.json()["code"] == "ip-blocked"
    await api.ok("DELETE", f"/orgs/{org}/ip-rules/{deny['id']}", token=token)
    assert (await _challenge(api, sitekey)).status_code == 200
    # an organisation-wide allow rule: friction stays until the site's policy says otherwise
    await api.ok(
        "POST",
        f"/orgs/{org}/ip-rules",
        token=token,
        json={"action": "allow", "cidr": CLIENT[0]},
    )
    assert (await _challenge(api, sitekey)).json()["pow"]["bits"] == 4
    await api.ok(
        "PUT",
        f"/orgs/{org}/sites/{site}/ip-policy",
        token=token,
        json={"allow_skips_friction": True},
    )
    light = (await _challenge(api, sitekey)).json()
    assert light["pow"] == {**light["pow"], "bits": 1, "count": 1} and light["task"] is None
    widget_token = await asolve(
        url="http://haechi.test", sitekey=sitekey, origin=ORIGIN, client=api.http
    )
    verdict = (
        await api.http.post("/siteverify", data={"secret": made.secret, "response": widget_token})
    ).json()
    assert verdict["success"] is True, verdict
    # deny wins over allow; an expiring deny stops applying without a reload
    await api.ok(
        "POST",
        f"/orgs/{org}/sites/{site}/ip-rules",
        token=token,
        json={
            "action": "deny",
            "cidr": CLIENT[0],
            "expires_at": (utcnow() + timedelta(seconds=1.5)).isoformat(),
        },
    )
    assert (await _challenge(api, sitekey)).status_code == 403
    loads = 0
    loader = api.runtime.sites._by_key._loader

    async def counting(key: str) -> Any:
        nonlocal loads
        loads += 1
        return await loader(key)

    api.runtime.sites._by_key._loader = counting
    await asyncio.sleep(1.6)
    assert (await _challenge(api, sitekey)).status_code == 200
    assert loads == 0  # the edge's copy expired the rule itself


def test_cli_parity(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from haechi.cli import main

    monkeypatch.setenv("HAECHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAECHI_PLATFORM__ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("HAECHI_NEW_PASSWORD", "a fine long passphrase")
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output.strip().splitlines()[-1])

    run("users", "create", "--email", "ops@example.com", "--json")
    org = run("orgs", "create", "--name", "Acme", "--owner", "ops@example.com", "--json")["id"]
    rule = run(
        "ip-rules", "add", "--org", org, "--action", "deny", "--cidr", "2001:DB8::/32",
        "--note", "scrapers", "--expires", "2099-01-01T00:00:00Z", "--json",
    )  # fmt: skip
    assert rule["cidr"] == "2001:db8::/32" and rule["site_id"] is None
    listed = run("ip-rules", "list", "--org", org, "--json")
    assert [r["id"] for r in listed["data"]] == [rule["id"]]
    bad = runner.invoke(main, ["ip-rules", "add", "--org", org, "--action", "deny", "--cidr",
                               "10.0.0.1/8"])  # fmt: skip
    assert bad.exit_code != 0 and "did you mean 10.0.0.0/8" in bad.output
    stranger = runner.invoke(main, ["ip-rules", "list", "--org", org, "--site",
                                    "00000000-0000-0000-0000-000000000000"])  # fmt: skip
    assert stranger.exit_code != 0 and "no such site" in stranger.output
    assert run("ip-rules", "remove", "--org", org, rule["id"], "--json")["id"] == rule["id"]
    assert run("ip-rules", "list", "--org", org, "--json")["data"] == []
