"""The plan catalogue and each organisation's plan (docs/usage-and-billing.md, Plans).

Plans come from settings (``plans.catalogue``) and from SQL (custom plans an operator creates,
``plans`` table); a custom plan cannot take a settings plan's key. With ``plans.enabled`` off
(the default) every organisation is on ``UNLIMITED`` whatever is assigned, so self-hosted and
embedded installs are never throttled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow
from haechi.core.errors import Conflict, Forbidden, NotFound
from haechi.core.settings import PlanSpec, PlansSettings
from haechi.platform.audit import service as audit
from haechi.platform.orgs.models import Invitation, Membership
from haechi.platform.plans.models import OrgPlan, PlanRecord
from haechi.platform.sites.models import Site

# problem+json codes (docs/api.md, docs/platform.md).
SITE_LIMIT = "plan-site-limit"
MEMBER_LIMIT = "plan-member-limit"
UNKNOWN_PLAN = "unknown-plan"


@dataclass(frozen=True, slots=True)
class Plan:
    """One plan. ``None`` limits are unlimited; prices are monthly, KRW, VAT included."""

    key: str
    name: str
    price_krw: int
    monthly_quota: int | None
    max_sites: int | None
    max_members: int | None
    retention_days: int
    ip_rules: bool
    audit_export: bool
    overage_krw_per_1000: int = 0
    # From settings (False) or an operator's custom plan in SQL (True).
    custom: bool = False

    @classmethod
    def from_spec(cls, spec: PlanSpec) -> Plan:
        return cls(
            key=spec.key,
            name=spec.name,
            price_krw=spec.price_krw,
            monthly_quota=spec.monthly_quota,
            max_sites=spec.max_sites,
            max_members=spec.max_members,
            retention_days=spec.retention_days,
            ip_rules=spec.ip_rules,
            audit_export=spec.audit_export,
            overage_krw_per_1000=spec.overage_krw_per_1000,
        )

    @classmethod
    def from_record(cls, row: PlanRecord) -> Plan:
        return cls(
            key=row.key,
            name=row.name,
            price_krw=row.price_krw,
            monthly_quota=row.monthly_quota,
            max_sites=row.max_sites,
            max_members=row.max_members,
            retention_days=row.retention_days,
            ip_rules=row.ip_rules,
            audit_export=row.audit_export,
            overage_krw_per_1000=row.overage_krw_per_1000,
            custom=True,
        )


# Every organisation's plan while plans are off.
UNLIMITED = Plan(
    key="unlimited",
    name="Unlimited",
    price_krw=0,
    monthly_quota=None,
    max_sites=None,
    max_members=None,
    retention_days=800,
    ip_rules=True,
    audit_export=True,
)


def settings_plans(settings: PlansSettings) -> dict[str, Plan]:
    return {spec.key: Plan.from_spec(spec) for spec in settings.catalogue}


async def catalogue(db: AsyncSession, settings: PlansSettings) -> dict[str, Plan]:
    """Every plan by key: the settings' first, then custom plans in key order."""
    plans = settings_plans(settings)
    for row in (await db.scalars(sa.select(PlanRecord).order_by(PlanRecord.key))).all():
        plans.setdefault(row.key, Plan.from_record(row))
    return plans


async def get_plan(db: AsyncSession, settings: PlansSettings, key: str) -> Plan | None:
    found = settings_plans(settings).get(key)
    if found is not None:
        return found
    row = await db.get(PlanRecord, key)
    return Plan.from_record(row) if row is not None else None


async def assigned_key(db: AsyncSession, settings: PlansSettings, org_id: uuid.UUID) -> str:
    """The key of the org's assigned plan (the default plan without an assignment), whether
    or not plans are enabled."""
    key = await db.scalar(sa.select(OrgPlan.plan).where(OrgPlan.org_id == org_id))
    return key or settings.default_plan


async def plan_for_org(db: AsyncSession, settings: PlansSettings, org_id: uuid.UUID) -> Plan:
    """The plan that applies to the org now: ``UNLIMITED`` while plans are off; otherwise its
    assigned plan, or the default plan (also when an assigned custom plan has gone)."""
    if not settings.enabled:
        return UNLIMITED
    plan = await get_plan(db, settings, await assigned_key(db, settings, org_id))
    if plan is None:
        plan = settings_plans(settings)[settings.default_plan]
    return plan


async def assign_plan(
    db: AsyncSession,
    *,
    settings: PlansSettings,
    org_id: uuid.UUID,
    plan_key: str,
    actor: audit.Actor,
    now: datetime | None = None,
) -> OrgPlan:
    """Put the org on ``plan_key`` (audited as ``plan.assign``). The caller commits. Billing
    calls this on a paid plan change and on the downgrade after the last failed retry."""
    if await get_plan(db, settings, plan_key) is None:
        raise NotFound(f"no plan {plan_key!r}", code=UNKNOWN_PLAN)
    now = now or utcnow()
    row = await db.get(OrgPlan, org_id, with_for_update=True)
    before = row.plan if row is not None else None
    if row is None:
        row = OrgPlan(org_id=org_id, plan=plan_key, assigned_at=now, used=0, state="ok")
        db.add(row)
    else:
        row.plan = plan_key
        row.assigned_at = now
    await db.flush()
    await audit.record(
        db,
        actor=actor,
        action="plan.assign",
        org_id=org_id,
        target_type="org",
        target_id=org_id,
        before={"plan": before},
        after={"plan": plan_key},
    )
    return row


async def save_custom_plan(
    db: AsyncSession,
    *,
    settings: PlansSettings,
    spec: PlanSpec,
    actor: audit.Actor,
) -> Plan:
    """Create or replace the custom plan ``spec.key`` (audited as ``plan.save``). The caller
    commits. A settings plan's key is refused (409 plan-key-taken)."""
    if spec.key in settings_plans(settings) or spec.key == UNLIMITED.key:
        raise Conflict(f"{spec.key!r} is a plan of the settings' catalogue", code="plan-key-taken")
    row = await db.get(PlanRecord, spec.key, with_for_update=True)
    before = _as_dict(Plan.from_record(row)) if row is not None else None
    if row is None:
        row = PlanRecord(key=spec.key)
        db.add(row)
    for field in (
        "name",
        "price_krw",
        "monthly_quota",
        "max_sites",
        "max_members",
        "retention_days",
        "ip_rules",
        "audit_export",
        "overage_krw_per_1000",
    ):
        setattr(row, field, getattr(spec, field))
    row.updated_at = utcnow()
    await db.flush()
    plan = Plan.from_record(row)
    await audit.record(
        db,
        actor=actor,
        action="plan.save",
        target_type="plan",
        target_id=spec.key,
        before=before,
        after=_as_dict(plan),
    )
    return plan


def _as_dict(plan: Plan) -> dict[str, object]:
    return {name: getattr(plan, name) for name in Plan.__slots__}


async def delete_custom_plan(db: AsyncSession, *, key: str, actor: audit.Actor) -> None:
    """Remove a custom plan no organisation is on (409 plan-in-use otherwise)."""
    row = await db.get(PlanRecord, key)
    if row is None:
        raise NotFound(f"no custom plan {key!r}", code=UNKNOWN_PLAN)
    in_use = await db.scalar(sa.select(sa.func.count()).where(OrgPlan.plan == key))
    if in_use:
        raise Conflict(f"{in_use} organisation(s) are on plan {key!r}", code="plan-in-use")
    before = _as_dict(Plan.from_record(row))
    await db.delete(row)
    await db.flush()
    await audit.record(
        db, actor=actor, action="plan.delete", target_type="plan", target_id=key, before=before
    )


# ---------------------------------------------------------------------------- limits


async def check_site_limit(db: AsyncSession, settings: PlansSettings, org_id: uuid.UUID) -> None:
    """Before a site is created: 403 ``plan-site-limit`` when the org has its plan's sites."""
    plan = await plan_for_org(db, settings, org_id)
    if plan.max_sites is None:
        return
    count = await db.scalar(sa.select(sa.func.count()).where(Site.org_id == org_id)) or 0
    if count >= plan.max_sites:
        raise Forbidden(
            f"the {plan.name} plan allows {plan.max_sites} site(s); upgrade to add more",
            code=SITE_LIMIT,
        )


async def check_member_limit(
    db: AsyncSession, settings: PlansSettings, org_id: uuid.UUID, *, now: datetime | None = None
) -> None:
    """Before an invitation: 403 ``plan-member-limit`` when members plus open invitations
    reach the plan's members."""
    plan = await plan_for_org(db, settings, org_id)
    if plan.max_members is None:
        return
    now = now or utcnow()
    members = await db.scalar(sa.select(sa.func.count()).where(Membership.org_id == org_id)) or 0
    invited = (
        await db.scalar(
            sa.select(sa.func.count()).where(
                Invitation.org_id == org_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > now,
            )
        )
        or 0
    )
    if members + invited >= plan.max_members:
        raise Forbidden(
            f"the {plan.name} plan allows {plan.max_members} member(s); upgrade to invite more",
            code=MEMBER_LIMIT,
        )
