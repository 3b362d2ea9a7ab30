"""The monthly quota of verified tokens (docs/usage-and-billing.md, Quotas).

``check_quotas`` (job ``platform.check_quotas``, every ``plans.check_seconds``) counts each
organisation's verified tokens in the current UTC month: the daily roll-ups plus what the
store holds and the roll-up has not moved yet. It writes the count and the state to
``org_plans``: ``ok`` below 100 %; ``grace`` from the first count at or over 100 % for
``plans.grace_hours``; then ``over``. The edge reads the state with the site (one query per
site-cache refresh, ``edge_flags``), never per request, and applies ``plans.over_quota``. Each
organisation's owners get one e-mail at 80 % and one at 100 % a month: the month is written to
``warned_80`` / ``warned_100`` in the transaction that queues the mail, under the row's lock.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from haechi.core.db import utcnow
from haechi.core.jobs import JobRunner
from haechi.core.settings import PlansSettings
from haechi.core.store import Store
from haechi.platform.accounts.models import User
from haechi.platform.email import service as mail
from haechi.platform.orgs.models import Membership, Organisation
from haechi.platform.plans import service as plans
from haechi.platform.plans.models import OrgPlan
from haechi.platform.sites.models import Site
from haechi.platform.usage.models import UsageDaily
from haechi.protocol.usage import USAGE_PREFIX, UsageKey

log = logging.getLogger(__name__)

VERIFIED = "verifies"
# What the edge does for an organisation whose state is ``over`` (SiteInfo.quota).
EDGE_ACTIONS = ("step-up", "block")


def period_of(when: datetime) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def month_start(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def edge_action(settings: PlansSettings, state: str | None) -> str:
    """What the edge applies for a quota ``state``: "" (serve as usual), "step-up" or "block"."""
    if not settings.enabled or state != "over" or settings.over_quota not in EDGE_ACTIONS:
        return ""
    return settings.over_quota


async def edge_flags(
    db: AsyncSession, settings: PlansSettings, org_id: uuid.UUID
) -> tuple[bool, str]:
    """(suspended, quota action) of the org, in one query: what the site cache needs."""
    row = (
        await db.execute(
            sa.select(Organisation.suspended_at, OrgPlan.state)
            .select_from(Organisation)
            .outerjoin(OrgPlan, OrgPlan.org_id == Organisation.id)
            .where(Organisation.id == org_id)
        )
    ).first()
    if row is None:
        return False, ""
    return row[0] is not None, edge_action(settings, row[1])


async def used_this_month(
    db: AsyncSession,
    store: Store | None,
    *,
    now: datetime,
    org_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, int]:
    """Verified tokens per org in ``now``'s UTC month: rolled up plus live in the store."""
    start = month_start(now)
    stmt = (
        sa.select(Site.org_id, sa.func.sum(UsageDaily.count))
        .join(Site, Site.sitekey == UsageDaily.sitekey)
        .where(UsageDaily.event == VERIFIED, UsageDaily.day >= start.date())
        .group_by(Site.org_id)
    )
    if org_id is not None:
        stmt = stmt.where(Site.org_id == org_id)
    used: dict[uuid.UUID, int] = defaultdict(int)
    for org, total in (await db.execute(stmt)).all():
        used[org] += int(total or 0)
    if store is not None:
        live: dict[str, int] = defaultdict(int)
        for key, n in (await store.peek_counters(USAGE_PREFIX)).items():
            parsed = UsageKey.from_wire(key)
            if parsed is not None and parsed.event == VERIFIED and parsed.hour >= start:
                live[parsed.sitekey] += n
        if live:
            owners = sa.select(Site.sitekey, Site.org_id).where(Site.sitekey.in_(list(live)))
            if org_id is not None:
                owners = owners.where(Site.org_id == org_id)
            for sitekey, org in (await db.execute(owners)).all():
                used[org] += live[sitekey]
    return dict(used)


_BEHAVIOUR = {
    "en": {
        "overage": "keep serving and bill the overage",
        "step-up": "show every visitor a visual task",
        "block": "refuse new challenges (quota-exceeded)",
    },
    "ko": {
        "overage": "계속 서비스하고 초과분을 청구합니다",
        "step-up": "모든 방문자에게 그림 과제를 보여 줍니다",
        "block": "새 챌린지를 거절합니다(quota-exceeded)",
    },
}


@dataclass
class QuotaRun:
    checked: int = 0
    mails: int = 0
    over: list[uuid.UUID] = field(default_factory=list)
    changed: list[uuid.UUID] = field(default_factory=list)


def _next_state(
    row: OrgPlan, quota: int | None, used: int, now: datetime, grace: timedelta
) -> tuple[str, datetime | None]:
    if quota is None or used < quota:
        return "ok", None
    since = row.over_since or now
    return ("over" if now >= since + grace else "grace"), since


async def check_quotas(
    *,
    sessions: async_sessionmaker[AsyncSession],
    store: Store | None,
    settings: PlansSettings,
    public_url: str,
    jobs: JobRunner | None = None,
    now: datetime | None = None,
) -> QuotaRun:
    """Recount every organisation's month and move its state; one transaction per org."""
    run = QuotaRun()
    if not settings.enabled:
        return run
    now = now or utcnow()
    period = period_of(now)
    grace = timedelta(hours=settings.grace_hours)
    async with sessions() as db:
        used = await used_this_month(db, store, now=now)
        orgs = set(used) | set((await db.scalars(sa.select(OrgPlan.org_id))).all())
        orgs |= set((await db.scalars(sa.select(Site.org_id).distinct())).all())
    for org_id in sorted(orgs):
        async with sessions() as db:
            try:
                await _check_one(db, settings, org_id, used.get(org_id, 0), period, now, grace,
                                 public_url, jobs, run)  # fmt: skip
                await db.commit()
            except IntegrityError:
                # Another worker created the org's row first: it counts this org this time.
                await db.rollback()
    return run


async def _check_one(
    db: AsyncSession,
    settings: PlansSettings,
    org_id: uuid.UUID,
    used: int,
    period: str,
    now: datetime,
    grace: timedelta,
    public_url: str,
    jobs: JobRunner | None,
    run: QuotaRun,
) -> None:
    row = await db.get(OrgPlan, org_id, with_for_update=True, populate_existing=True)
    if row is None:
        if await db.get(Organisation, org_id) is None:
            return
        # "" = the default plan (no assignment).
        row = OrgPlan(org_id=org_id, plan="", assigned_at=now, used=0, state="ok")
        db.add(row)
        await db.flush()
    if row.period != period:
        row.period, row.over_since = period, None
    plan = await plans.plan_for_org(db, settings, org_id)
    quota = plan.monthly_quota
    state, since = _next_state(row, quota, used, now, grace)
    if state != row.state:
        run.changed.append(org_id)
    row.used, row.state, row.over_since, row.checked_at = used, state, since, now
    run.checked += 1
    if state == "over":
        run.over.append(org_id)
    if quota is None or quota <= 0:
        return
    percent = 100 if used >= quota else (80 if used * 5 >= quota * 4 else 0)
    if percent == 0:
        return
    first_100 = percent == 100 and row.warned_100 != period
    first_80 = row.warned_80 != period and not first_100
    if percent == 100 and row.warned_80 != period:
        row.warned_80 = period  # past 100 % at once: the 100 % mail says it all
    if first_100:
        row.warned_100 = period
    elif first_80:
        row.warned_80 = period
    else:
        return
    await db.flush()
    run.mails += await _mail_owners(
        db, org_id, plan, used, quota, percent, period, now + grace, settings, public_url, jobs
    )


async def _mail_owners(
    db: AsyncSession,
    org_id: uuid.UUID,
    plan: plans.Plan,
    used: int,
    quota: int,
    percent: int,
    period: str,
    grace_until: datetime,
    settings: PlansSettings,
    public_url: str,
    jobs: JobRunner | None,
) -> int:
    org = await db.get(Organisation, org_id)
    owners = (
        await db.execute(
            sa.select(User.email, User.locale)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org_id, Membership.role == "owner")
        )
    ).all()
    for email, locale in owners:
        locale = "ko" if locale == "ko" else "en"
        behaviour = _BEHAVIOUR[locale][settings.over_quota]
        await mail.queue(
            db,
            jobs=jobs,
            to=email,
            template=f"quota-{percent}",
            locale=locale,
            values={
                "org": org.name if org is not None else "",
                "plan": plan.name,
                "used": f"{used:,}",
                "quota": f"{quota:,}",
                "period": period,
                "grace_until": grace_until.strftime("%Y-%m-%d %H:%M UTC"),
                "behaviour": behaviour,
                "link": f"{public_url.rstrip('/')}/orgs/{org_id}/billing",
            },
        )
    return len(owners)
