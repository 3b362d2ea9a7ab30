"""Analytics: series per organisation and site for every range, CSV export, the live view, and
another organisation's ids answering 404."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from haechi.platform.usage import rollup
from haechi.protocol.usage import usage_key
from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration

# age of the counts -> (challenges, solves, verifies)
AGES = {
    timedelta(minutes=30): (10, 8, 6),
    timedelta(days=3): (100, 90, 80),
    timedelta(days=20): (1000, 900, 800),
    timedelta(days=60): (10_000, 9_000, 8_000),
    timedelta(days=200): (100_000, 90_000, 80_000),
}
# which ages each range includes
EXPECTED = {"24h": 1, "7d": 2, "30d": 3, "90d": 4, "12m": 5}
BUCKETS = {"24h": (24, "hour"), "7d": (168, "hour"), "30d": (30, "day"), "90d": (90, "day")}


async def _world(api: Api) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with api.db() as db:
        alice = await factories.user(db)
        bob = await factories.user(db)
        org_a = await factories.org(db, owner=alice, name="A")
        org_b = await factories.org(db, owner=bob, name="B")
        site = await factories.site(db, org=org_a, pepper=api.runtime.pepper, name="Shop")
        other = await factories.site(db, org=org_a, pepper=api.runtime.pepper, name="Blog")
        site_b = await factories.site(db, org=org_b, pepper=api.runtime.pepper)
        counts: dict[str, int] = {}
        for age, numbers in AGES.items():
            at = (now - age).timestamp()
            for event, n in zip(("challenges", "solves", "verifies"), numbers, strict=True):
                counts[usage_key(site.site.sitekey, event, at)] = n
                counts[usage_key(other.site.sitekey, event, at)] = 1
                counts[usage_key(site_b.site.sitekey, event, at)] = 7  # never A's
        await rollup.apply_flush(db, flush_id="a" * 32, counts=counts)
        tokens = {
            name: await factories.access_token(db, user=u, keyring=api.runtime.keyring)
            for name, u in (("alice", alice), ("bob", bob))
        }
    return {
        "org_a": org_a.id,
        "org_b": org_b.id,
        "site": site.site,
        "other": other.site,
        "site_b": site_b.site,
        "tokens": tokens,
    }


def _sum(n_ages: int, index: int) -> int:
    return sum(numbers[index] for numbers in list(AGES.values())[:n_ages])


async def test_series_for_every_range(api: Api) -> None:
    w = await _world(api)
    alice = w["tokens"]["alice"]
    for period, n_ages in EXPECTED.items():
        site = await api.ok(
            "GET", f"/orgs/{w['org_a']}/sites/{w['site'].id}/usage?range={period}", token=alice
        )
        assert site["totals"]["challenges"] == _sum(n_ages, 0), period
        assert site["totals"]["verifies"] == _sum(n_ages, 2), period
        assert site["totals"]["solve_rate"] == round(_sum(n_ages, 1) / _sum(n_ages, 0), 4)
        assert sum(p["verifies"] for p in site["points"]) == _sum(n_ages, 2)
        org = await api.ok("GET", f"/orgs/{w['org_a']}/usage?range={period}", token=alice)
        # the org adds its second site (1 of each per age), never org B's
        assert org["totals"]["challenges"] == _sum(n_ages, 0) + n_ages, period
        if period in BUCKETS:
            length, granularity = BUCKETS[period]
            assert org["granularity"] == granularity
            assert len(org["points"]) == length
        else:
            assert org["granularity"] == "month" and len(org["points"]) == 12
        times = [p["t"] for p in org["points"]]
        assert times == sorted(times)


async def test_csv_export(api: Api) -> None:
    w = await _world(api)
    reply = await api.call(
        "GET", f"/orgs/{w['org_a']}/usage/export.csv?range=7d", token=w["tokens"]["alice"]
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert {r["sitekey"] for r in rows} == {w["site"].sitekey, w["other"].sitekey}
    assert sum(int(r["verifies"]) for r in rows if r["sitekey"] == w["site"].sitekey) == 86
    assert len(rows) == 4  # two hours with counts x two sites
    site_csv = await api.call(
        "GET",
        f"/orgs/{w['org_a']}/sites/{w['other'].id}/usage/export.csv?range=12m",
        token=w["tokens"]["alice"],
    )
    assert {r["sitekey"] for r in csv.DictReader(io.StringIO(site_csv.text))} == {
        w["other"].sitekey
    }


async def test_another_orgs_usage_is_404(api: Api) -> None:
    w = await _world(api)
    bob = w["tokens"]["bob"]
    for path in (
        f"/orgs/{w['org_a']}/usage",
        f"/orgs/{w['org_a']}/usage/live",
        f"/orgs/{w['org_a']}/usage/export.csv",
        f"/orgs/{w['org_b']}/sites/{w['site'].id}/usage",
        f"/orgs/{w['org_b']}/sites/{w['site'].id}/usage/export.csv",
    ):
        assert (await api.call("GET", path, token=bob)).status_code == 404, path
    # bob's own view shows only his site's counts
    own = await api.ok("GET", f"/orgs/{w['org_b']}/usage?range=12m", token=bob)
    assert own["totals"]["challenges"] == 7 * len(AGES)


async def test_a_bad_range_is_a_client_error(api: Api) -> None:
    w = await _world(api)
    reply = await api.call("GET", f"/orgs/{w['org_a']}/usage?range=1y", token=w["tokens"]["alice"])
    assert reply.status_code == 422


async def test_live_view_reads_the_store(api: Api) -> None:
    w = await _world(api)
    now = time.time()
    await api.runtime.store.incr_many(
        {
            usage_key(w["site"].sitekey, "challenges", now): 5,
            usage_key(w["site"].sitekey, "verifies", now): 3,
            usage_key(w["site_b"].sitekey, "verifies", now): 99,
        }
    )
    live = await api.ok("GET", f"/orgs/{w['org_a']}/usage/live", token=w["tokens"]["alice"])
    by_name = {s["name"]: s for s in live["data"]}
    assert by_name["Shop"]["challenges"] == 5 and by_name["Shop"]["verifies"] == 3
    assert by_name["Blog"]["verifies"] == 0 and by_name["Shop"]["attack_level"] == 0
    assert live["count"] == 2


async def test_operators_see_every_org(api: Api) -> None:
    w = await _world(api)
    async with api.db() as db:
        operator = await factories.user(db, operator=True)
        op_token = await factories.access_token(db, user=operator, keyring=api.runtime.keyring)
    everyone = await api.ok("GET", "/admin/usage?range=12m", token=op_token)
    # org A's two sites and org B's (other tests' rows are rolled back)
    assert everyone["totals"]["challenges"] == _sum(5, 0) + 5 + 7 * 5
    live = await api.ok("GET", "/admin/usage/live", token=op_token)
    assert {s["sitekey"] for s in live["data"]} >= {w["site"].sitekey, w["site_b"].sitekey}
    for path in ("/admin/usage", "/admin/usage/live"):
        reply = await api.call("GET", path, token=w["tokens"]["alice"])
        assert reply.status_code in (403, 404), path


async def test_breakdown_of_the_richer_counters(api: Api) -> None:
    w = await _world(api)
    at = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    key = w["site"].sitekey
    richer = {
        "c.none": 80, "c.grid": 20, "p.0": 80, "p.1": 20, "s.token": 90, "s.step_up": 5,
        "f.denied": 4, "f.wrong-answer": 6, "k.invisible": 70, "k.stepped": 20,
        "v.native": 60, "v.recaptcha": 10, "x.duplicate": 2,
        "r.0": 50, "r.10": 30, "r.40": 10, "t.1": 10, "t.2": 40, "t.5": 39, "t.inf": 1,
        "h.shop.example.com": 85, "h.~other": 5, "a.login": 60, "a.signup": 30,
    }  # fmt: skip
    async with api.db() as db:
        await rollup.apply_flush(
            db,
            flush_id="b" * 32,
            counts={usage_key(key, e, at): n for e, n in richer.items()}
            | {usage_key(w["site_b"].sitekey, "c.grid", at): 999},  # never A's
        )
    alice = w["tokens"]["alice"]
    for path in (f"/orgs/{w['org_a']}/usage", f"/orgs/{w['org_a']}/sites/{w['site'].id}/usage"):
        body = await api.ok("GET", f"{path}?range=24h", token=alice)
        b = body["breakdown"]
        assert b["challenge_types"] == {"none": 80, "grid": 20}
        assert b["failures"] == {"denied": 4, "wrong-answer": 6}
        assert b["dialects"] == {"native": 60, "recaptcha": 10}
        assert b["top_hostnames"][0] == {"name": "shop.example.com", "count": 85}
        assert [a["name"] for a in b["top_actions"]] == ["login", "signup"]
        assert [r["count"] for r in b["risk"]][:5] == [50, 30, 0, 0, 10]
        assert (b["solve_seconds_p50"], b["solve_seconds_p90"], b["solve_seconds_p99"]) == (
            2,
            5,
            None,
        )
        assert b["risk_p50"] == 10.0
        challenges = body["totals"]["challenges"]  # the core totals of _world's last 30 min
        assert b["shares"]["blocked"] == round(4 / challenges, 4)
