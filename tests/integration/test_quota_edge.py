"""An organisation over its quota at the edge, in each of the operator's modes (plans on, no
grace): real challenges, solves and verifications counted, the quota job run, the site cache
refreshed. Block refuses every new challenge (403 quota-exceeded); step-up gives every visitor a
visual task, and proof-of-work alone never gets a token; overage keeps serving and counts the
tokens beyond the quota. In no mode is a token handed out without a solved challenge."""

from __future__ import annotations

from pathlib import Path

import pytest

from haechi.core.settings import PlanSpec
from haechi.platform.audit.service import Actor
from haechi.platform.plans import quota
from haechi.platform.plans import service as plans
from haechi.platform.sites import service as site_service
from tests.integration.conftest import Edge, embedded_edge

pytestmark = pytest.mark.integration
QUOTA = 3
VISITS = 12


async def _over_quota(edge: Edge) -> object:
    site = await edge.create_site()
    settings = edge.runtime.settings.plans
    async with edge.runtime.sessions() as db:
        org = await site_service.get_or_create_default_org(db)
        spec = PlanSpec(key="tiny", name="Tiny", monthly_quota=QUOTA)
        await plans.save_custom_plan(db, settings=settings, spec=spec, actor=Actor("system", None))
        await plans.assign_plan(
            db, settings=settings, org_id=org.id, plan_key="tiny", actor=Actor("system", None)
        )
        await db.commit()
    for _ in range(QUOTA):  # served as usual up to the quota
        token = await edge.token(site.sitekey)
        assert (await edge.verify(secret=site.secret, response=token))["success"] is True
    await edge.runtime.counters.flush(edge.runtime.store)
    run = await quota.check_quotas(
        sessions=edge.runtime.sessions,
        store=edge.runtime.store,
        settings=settings,
        public_url="https://dash.example.com",
    )
    assert run.over == [org.id]
    await edge.runtime.invalidate_site(None)
    return site


@pytest.mark.parametrize("mode", ["block", "step-up", "overage"])
async def test_an_org_over_its_quota_at_the_edge(tmp_path: Path, mode: str) -> None:
    plans_settings = {"enabled": True, "grace_hours": 0, "over_quota": mode}
    async for edge in embedded_edge(tmp_path, plans=plans_settings):
        site = await _over_quota(edge)
        seen = {"refused": 0, "task": 0, "tokens": 0, "verified": 0, "pow-only-fail": 0}
        for _ in range(VISITS):
            reply = await edge.challenge(site.sitekey)  # type: ignore[attr-defined]
            if reply.status_code == 403:
                assert reply.json()["error"]["code"] == "quota-exceeded"
                seen["refused"] += 1
                continue
            assert reply.status_code == 200, reply.text
            challenge = reply.json()
            if challenge["task"] is not None:
                seen["task"] += 1
                # the proof-of-work without the task's answer never earns a token
                outcome = (await edge.solve(challenge)).json()
                assert outcome["outcome"] == "fail", outcome
                seen["pow-only-fail"] += 1
                continue
            outcome = (await edge.solve(challenge)).json()
            assert outcome["outcome"] == "token", outcome
            seen["tokens"] += 1
            verdict = await edge.verify(secret=site.secret, response=outcome["token"])  # type: ignore[attr-defined]
            seen["verified"] += int(verdict["success"])
        if mode == "block":
            assert seen == {**seen, "refused": VISITS, "tokens": 0, "task": 0}
        elif mode == "step-up":
            assert seen == {**seen, "refused": 0, "task": VISITS, "pow-only-fail": VISITS}
            assert seen["tokens"] == 0
        else:
            assert seen == {**seen, "refused": 0, "task": 0, "tokens": VISITS, "verified": VISITS}
            # the overage is counted for the invoice
            await edge.runtime.counters.flush(edge.runtime.store)
            async with edge.runtime.sessions() as db:
                used = await quota.used_this_month(
                    db, edge.runtime.store, now=quota.utcnow(), org_id=None
                )
            assert sum(used.values()) == QUOTA + VISITS
        print(f"quota mode {mode}: {seen}")
