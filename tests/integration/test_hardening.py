"""Regression tests for the security review of the core protocol."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from haechi.core.net import client_ip, ip_bucket
from haechi.core.settings import RateLimitSettings
from haechi.protocol.sites import SiteCache, SiteInfo
from haechi.risk.policy import Plan

from .conftest import ORIGIN, Edge, embedded_edge


async def test_sealed_lengths_reveal_nothing(quick_edge: Edge) -> None:
    """A challenge's or token's length depends only on what the visitor knows (site, page,
    action, cdata, the task shown): not on the risk, on whether it blocks, or on the answer."""
    site = await quick_edge.create_site()
    await quick_edge.set_security_level(site.sitekey, "high")  # glyph tasks: 2-5 correct cells
    lengths = {
        len((await quick_edge.challenge(site.sitekey)).json()["challenge"]) for _ in range(40)
    }
    assert len(lengths) == 1
    protocol = quick_edge.runtime.protocol
    host = urlsplit(ORIGIN).hostname or ""
    info = await protocol.authorize(site.sitekey, host)
    challenges, tokens = set(), set()
    for risk in (0, 7, 42, 100):
        for block in (False, True):
            plan = Plan(
                band=0, effective_risk=risk, pow_bits=4, pow_count=8, challenge=None, block=block
            )
            body = await protocol._seal_challenge(
                site=info, hostname=host, action=None, cdata=None, locale="en",
                plan=plan, risk=risk, step=0, now=time.time(),
            )  # fmt: skip
            challenges.add(len(body["challenge"]))
        # What a sealed challenge carries into its token (the issue time, the task, the step).
        data = {
            "sk": site.sitekey, "h": host, "a": "login", "cd": None,
            "iat": time.time() - 3, "ty": None, "st": 0,
        }  # fmt: skip
        tokens.add(len(protocol._issue_token(data, risk=risk, now=time.time())))
    assert len(challenges) == 1 and len(tokens) == 1
    await quick_edge.set_security_level(site.sitekey, "medium")
    longest = await quick_edge.token(site.sitekey, action="a" * 32, cdata="c" * 255)
    assert len(longest) <= 1024


async def test_cdata_with_control_characters_is_refused_before_anything_is_spent(
    quick_edge: Edge,
) -> None:
    site = await quick_edge.create_site()
    reply = await quick_edge.challenge(site.sitekey, cdata="\x01" * 255)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "bad-request"


async def test_wrong_origin_cannot_spend_a_sites_budget(tmp_path: Path) -> None:
    async for e in embedded_edge(
        tmp_path, rate_limit=RateLimitSettings(per_ip=1000, per_sitekey=5, window_seconds=60)
    ):
        site = await e.create_site()
        for _ in range(20):
            assert (await e.challenge(site.sitekey, origin="https://evil.test")).status_code == 400
        assert (await e.challenge(site.sitekey)).status_code == 200


def test_ipv6_clients_share_a_bucket_per_64_and_mapped_ipv4_is_unmapped() -> None:
    assert ip_bucket("2001:db8:1:2::1") == ip_bucket("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert ip_bucket("2001:db8:1:3::1") != ip_bucket("2001:db8:1:2::1")
    assert ip_bucket("203.0.113.9") == "203.0.113.9"
    import ipaddress

    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    assert client_ip("::ffff:10.0.0.5", "6.6.6.6", trusted) == "6.6.6.6"
    assert client_ip("::ffff:203.0.113.1", None, ()) == "203.0.113.1"


async def test_unknown_secrets_never_evict_known_sites() -> None:
    calls: list[str] = []
    known = SiteInfo("1", "hk_known", ("a.test",), "medium", "managed", True, "d" * 64)

    async def by_digest(digest: str) -> SiteInfo | None:
        calls.append(digest)
        return known if digest == "good" else None

    async def by_key(key: str) -> SiteInfo | None:
        return None

    cache = SiteCache(by_sitekey=by_key, by_secret_digest=by_digest)
    assert await cache.get_by_secret_digest("good") is known
    for i in range(25_000):  # more than the negative table holds
        assert await cache.get_by_secret_digest(f"random-{i}") is None
    calls.clear()
    assert await cache.get_by_secret_digest("good") is known
    assert calls == []  # still cached, no query


async def test_a_stale_site_is_not_served_forever_while_the_database_is_down() -> None:
    site = SiteInfo("1", "hk_s", ("a.test",), "medium", "managed", True, "d" * 64)
    down = False

    async def by_key(key: str) -> SiteInfo | None:
        if down:
            raise OSError("database down")
        return site

    cache = SiteCache(by_sitekey=by_key, by_secret_digest=by_key, ttl=0.01)
    assert await cache.get_by_sitekey("hk_s") is site
    down = True
    cache._by_key._max_stale = 0.05
    await asyncio.sleep(0.02)
    assert await cache.get_by_sitekey("hk_s") is site  # stale but within the window
    await asyncio.sleep(0.1)
    with pytest.raises(OSError):
        await cache.get_by_sitekey("hk_s")


async def test_database_failure_at_solve_is_503(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    challenge = (await quick_edge.challenge(site.sitekey)).json()

    async def down(sitekey: str) -> SiteInfo | None:
        raise OSError("database down")

    quick_edge.runtime.sites.invalidate()
    quick_edge.runtime.sites._by_key._loader = down
    reply = await quick_edge.solve(challenge)
    assert reply.status_code == 503 and reply.json()["error"]["code"] == "unavailable"


async def test_other_tenants_learn_nothing_about_a_token(quick_edge: Edge) -> None:
    a = await quick_edge.create_site()
    b = await quick_edge.create_site()
    token = await quick_edge.token(a.sitekey)
    later = time.time() + 400
    quick_edge.runtime.protocol.clock = lambda: later
    for path in ("/siteverify", "/hcaptcha/siteverify", "/turnstile/v0/siteverify"):
        body = await quick_edge.verify(path, secret=b.secret, response=token)
        assert body["error-codes"] == ["invalid-input-response"], path


async def test_idempotent_repeat_outlives_the_token(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    token = await quick_edge.token(site.sitekey)
    first = await quick_edge.verify(secret=site.secret, response=token, idempotency_key="k")
    assert first["success"]
    later = time.time() + 400  # past the token's 300 s, inside the idempotency TTL
    quick_edge.runtime.protocol.clock = lambda: later
    assert await quick_edge.verify(secret=site.secret, response=token, idempotency_key="k") == first


async def test_siteverify_rate_limit_per_ip(tmp_path: Path) -> None:
    async for e in embedded_edge(
        tmp_path, rate_limit=RateLimitSettings(siteverify_per_ip=3, window_seconds=60)
    ):
        codes = []
        for _ in range(4):
            reply = await e.http.post(
                "/siteverify", data={"secret": "hs_" + "x" * 40, "response": "t"}
            )
            codes.append((reply.status_code, reply.json()["error-codes"]))
        assert codes[:3] == [(400, ["invalid-input-secret"])] * 3
        assert codes[3] == (200, ["rate-limited"])
        limited = await e.http.post(
            "/turnstile/v0/siteverify", data={"secret": "s", "response": "t"}
        )
        assert limited.json()["error-codes"] == ["internal-error"]
        assert int(limited.headers["retry-after"]) >= 1


def test_cli_solve_reports_unreachable_servers_without_a_traceback() -> None:
    haechi = str(Path(sys.executable).parent / "haechi")
    proc = subprocess.run(
        [haechi, "solve", "--url", "http://127.0.0.1:1", "--sitekey", "hk_x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and "cannot reach" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_origin_spoofing_needs_the_same_page_at_solve(quick_edge: Edge) -> None:
    site = await quick_edge.create_site(["shop.example.com", "other.example.com"])
    challenge = (await quick_edge.challenge(site.sitekey, origin=ORIGIN)).json()
    reply = await quick_edge.solve(challenge, origin="https://other.example.com")
    assert reply.json()["code"] == "invalid-hostname"


def test_a_cached_site_outlives_a_minute_long_database_outage() -> None:
    """The default window serves cached sites through a 60 s PostgreSQL stop (then fails closed)."""

    async def never(key: str) -> SiteInfo | None:
        return None

    cache = SiteCache(by_sitekey=never, by_secret_digest=never, ttl=5.0)
    assert cache._by_key._max_stale >= 120.0
