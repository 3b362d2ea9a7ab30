"""Plans and quotas: off by default (unlimited); on, the site and member limits answer 403 with
their codes, operators assign settings and custom plans (audited), and the quota job counts the
month (rolled up + live), moves ok -> grace -> over, mails each owner once at 80 % and 100 %,
and tells the edge what to do."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from haechi.core.settings import PlansSettings
from haechi.platform.audit.models import AuditEvent
from haechi.platform.email.models import Mail
from haechi.platform.plans import quota
from haechi.platform.plans.models import OrgPlan
from haechi.platform.usage import rollup
from haechi.protocol.usage import usage_key
from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration


@pytest.fixture
def plans_on(api: Api, monkeypatch: pytest.MonkeyPatch) -> PlansSettings:
    settings = PlansSettings(enabled=True, grace_hours=24, over_quota="block")
    monkeypatch.setattr(api.runtime.settings, "plans", settings)
    return settings


async def _world(api: Api) -> dict[str, Any]:
    async with api.db() as db:
        owner = await factories.user(db, locale="ko")
        operator = await factories.user(db, operator=True)
        org = await factories.org(db, owner=owner, name="Acme")
        tokens = {
            name: await factories.access_token(db, user=u, keyring=api.runtime.keyring)
            for name, u in (("owner", owner), ("operator", operator))
        }
    return {"org": org.id, "owner": owner.email, "tokens": tokens}


def _site(n: int) -> dict[str, Any]:
    return {"name": f"Site {n}", "hostnames": [f"s{n}.example.com"]}


async def test_plans_off_every_org_is_unlimited(api: Api) -> None:
    w = await _world(api)
    owner = w["tokens"]["owner"]
    for n in range(5):  # more than the free plan's 3
        await api.ok("POST", f"/orgs/{w['org']}/sites", token=owner, json=_site(n))
    plan = await api.ok("GET", f"/orgs/{w['org']}/plan", token=owner)
    assert plan["plan"]["key"] == "unlimited" and plan["quota"] is None
    assert plan["state"] == "ok"
    catalogue = await api.ok("GET", "/plans", token=owner)
    assert catalogue["enabled"] is False
    assert [p["key"] for p in catalogue["data"]][:4] == ["free", "pro", "business", "enterprise"]


async def test_limits_assignment_and_custom_plans(api: Api, plans_on: PlansSettings) -> None:
    w = await _world(api)
    owner, operator = w["tokens"]["owner"], w["tokens"]["operator"]
    org = w["org"]
    for n in range(3):
        await api.ok("POST", f"/orgs/{org}/sites", token=owner, json=_site(n))
    refused = await api.call("POST", f"/orgs/{org}/sites", token=owner, json=_site(3))
    assert (refused.status_code, refused.json()["code"]) == (403, "plan-site-limit")
    # owner + 2 open invitations fill the free plan's 3 members
    for n in range(2):
        await api.ok("POST", f"/orgs/{org}/invitations", token=owner, json={"email": f"i{n}@x.io"})
    refused = await api.call(
        "POST", f"/orgs/{org}/invitations", token=owner, json={"email": "i9@x.io"}
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "plan-member-limit")

    # only operators assign; an unknown plan is 404
    denied = await api.call("PUT", f"/admin/orgs/{org}/plan", token=owner, json={"plan": "pro"})
    assert denied.status_code == 403
    unknown = await api.call("PUT", f"/admin/orgs/{org}/plan", token=operator, json={"plan": "x"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown-plan")
    await api.ok("PUT", f"/admin/orgs/{org}/plan", token=operator, json={"plan": "pro"})
    await api.ok("POST", f"/orgs/{org}/sites", token=owner, json=_site(3))
    assert (await api.ok("GET", f"/orgs/{org}/plan", token=owner))["plan"]["key"] == "pro"

    # a custom plan: not over a settings key; assigned; not deleted while in use
    custom = {"name": "Gov", "price_krw": 0, "monthly_quota": 50, "max_sites": 4, "max_members": 9}
    taken = await api.call("PUT", "/admin/plans/pro", token=operator, json=custom)
    assert (taken.status_code, taken.json()["code"]) == (409, "plan-key-taken")
    saved = await api.ok("PUT", "/admin/plans/gov-1", token=operator, json=custom)
    assert saved["custom"] is True and saved["monthly_quota"] == 50
    await api.ok("PUT", f"/admin/orgs/{org}/plan", token=operator, json={"plan": "gov-1"})
    mine = await api.ok("GET", f"/orgs/{org}/plan", token=owner)
    assert (mine["plan"]["key"], mine["quota"], mine["assigned"]) == ("gov-1", 50, "gov-1")
    refused = await api.call("POST", f"/orgs/{org}/sites", token=owner, json=_site(5))
    assert refused.json()["code"] == "plan-site-limit"
    in_use = await api.call("DELETE", "/admin/plans/gov-1", token=operator)
    assert (in_use.status_code, in_use.json()["code"]) == (409, "plan-in-use")
    listed = await api.ok("GET", "/plans", token=owner)
    assert "gov-1" in [p["key"] for p in listed["data"]]
    async with api.db() as db:
        actions = (
            await db.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.action.like("plan.%"))
                .order_by(AuditEvent.created_at)
            )
        ).all()
    assert actions.count("plan.assign") == 2 and "plan.save" in actions


async def _count(
    api: Api, org: uuid.UUID, sitekey: str, rolled: int, live: int, at: datetime
) -> None:
    async with api.db() as db:
        await rollup.apply_flush(
            db,
            flush_id=uuid.uuid4().hex,
            counts={usage_key(sitekey, "verifies", at.timestamp()): rolled},
        )
    if live:
        await api.runtime.store.incr_many({usage_key(sitekey, "verifies", at.timestamp()): live})


async def test_quota_states_mails_once_and_edge_flags(api: Api, plans_on: PlansSettings) -> None:
    w = await _world(api)
    org = w["org"]
    async with api.db() as db:
        org_row = await db.get(factories.Organisation, org)
        site = await factories.site(db, org=org_row, pepper=api.runtime.pepper)
        other_owner = await factories.user(db)
        other = await factories.org(db, owner=other_owner, name="Other")
        other_site = await factories.site(db, org=other, pepper=api.runtime.pepper)
    sitekey = site.site.sitekey
    now = datetime.now(UTC).replace(minute=30)
    month_start = quota.month_start(now)
    last_month = month_start - timedelta(hours=1)

    async def check(at: datetime) -> quota.QuotaRun:
        return await quota.check_quotas(
            sessions=api.runtime.sessions,
            store=api.runtime.store,
            settings=plans_on,
            public_url="https://dash.example.com",
            now=at,
        )

    async def state() -> tuple[str, int, bool, str]:
        async with api.db() as db:
            row = await db.get(OrgPlan, org, populate_existing=True)
            flags = await quota.edge_flags(db, plans_on, org)
        assert row is not None
        return row.state, row.used, flags[0], flags[1]

    async def mails(template: str) -> int:
        async with api.db() as db:
            return int(
                await db.scalar(
                    sa.select(sa.func.count()).where(
                        Mail.to_address == w["owner"], Mail.template == template
                    )
                )
                or 0
            )

    # last month's tokens and another org's never count
    await _count(api, org, sitekey, 9_000, 0, last_month)
    await _count(api, other.id, other_site.site.sitekey, 50_000, 0, now)
    await _count(api, org, sitekey, 7_000, 1_000, now)  # 8,000 of free's 10,000: 80 %
    await check(now)
    assert await state() == ("ok", 8_000, False, "")
    assert (await mails("quota-80"), await mails("quota-100")) == (1, 0)
    await check(now)  # the same month again: no second mail
    assert await mails("quota-80") == 1
    mail = await api.last_mail(w["owner"], "quota-80")
    assert "8,000" in mail.text_body and "10,000" in mail.text_body and "80 %" in mail.subject

    await _count(api, org, sitekey, 0, 2_000, now)  # live only: 10,000 = 100 %
    run = await check(now)
    assert await state() == ("grace", 10_000, False, "")
    assert org in run.changed
    assert (await mails("quota-80"), await mails("quota-100")) == (1, 1)
    await check(now + timedelta(hours=23))
    assert (await state())[0] == "grace"
    await check(now + timedelta(hours=25))  # the grace period has run out
    assert await state() == ("over", 10_000, False, "block")
    assert await mails("quota-100") == 1
    # the operator's mode decides what the edge does; "overage" serves as usual
    for mode, action in (("step-up", "step-up"), ("overage", ""), ("block", "block")):
        assert quota.edge_action(plans_on.model_copy(update={"over_quota": mode}), "over") == action
    # the other org (no plan row before) was counted too: over from its first check
    async with api.db() as db:
        theirs = await db.get(OrgPlan, other.id)
    assert theirs is not None and theirs.used == 50_000 and theirs.state == "over"
    # an upgrade ends it at the next check
    async with api.db() as db:
        from haechi.platform.audit.service import Actor
        from haechi.platform.plans import service as plans

        await plans.assign_plan(
            db, settings=plans_on, org_id=org, plan_key="pro", actor=Actor("system", None)
        )
    await check(now + timedelta(hours=26))
    assert await state() == ("ok", 10_000, False, "")


async def test_plans_off_the_job_does_nothing(api: Api) -> None:
    run = await quota.check_quotas(
        sessions=api.runtime.sessions,
        store=api.runtime.store,
        settings=api.runtime.settings.plans,
        public_url="https://dash.example.com",
    )
    assert run.checked == 0
