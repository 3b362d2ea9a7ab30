"""/api/v1/plans, /api/v1/orgs/{org_id}/plan, and the operator's /api/v1/admin/plans."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Response

from haechi.core.db import utcnow
from haechi.core.settings import PlanSpec
from haechi.platform.admin import service as admin
from haechi.platform.deps import (
    CurrentActor,
    CurrentOperator,
    CurrentUser,
    DbSession,
    OrgAccess,
    RuntimeDep,
    require,
)
from haechi.platform.plans import quota, schemas, service
from haechi.platform.plans.models import OrgPlan

router = APIRouter(tags=["plans"])
# The operator's routes: tagged "admin" (operation ids admin_*, like the other /admin routes).
admin_router = APIRouter(tags=["admin"])
OrgReader = Annotated[OrgAccess, require("org:read")]
PlanKey = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]


def _public(plan: service.Plan) -> schemas.PlanPublic:
    return schemas.PlanPublic.model_validate(plan)


@router.get("/plans", operation_id="plans_list")
async def list_plans(user: CurrentUser, db: DbSession, runtime: RuntimeDep) -> schemas.PlansPublic:
    """Every plan: the settings' catalogue, then operators' custom plans."""
    settings = runtime.settings.plans
    plans = await service.catalogue(db, settings)
    return schemas.PlansPublic(
        enabled=settings.enabled,
        default_plan=settings.default_plan,
        data=[_public(p) for p in plans.values()],
    )


@router.get("/orgs/{org_id}/plan", operation_id="plans_org_get")
async def org_plan(access: OrgReader, db: DbSession, runtime: RuntimeDep) -> schemas.OrgPlanPublic:
    """The organisation's plan and its month so far (counted now, rolled up and live)."""
    settings = runtime.settings.plans
    now = utcnow()
    plan = await service.plan_for_org(db, settings, access.org.id)
    used = await quota.used_this_month(db, runtime.store, now=now, org_id=access.org.id)
    row = await db.get(OrgPlan, access.org.id)
    period = quota.period_of(now)
    state, since = "ok", None
    if settings.enabled and row is not None and row.period == period:
        state, since = row.state, row.over_since
    grace_until = since + timedelta(hours=settings.grace_hours) if since is not None else None
    return schemas.OrgPlanPublic(
        plan=_public(plan),
        assigned=await service.assigned_key(db, settings, access.org.id),
        period=period,
        used=used.get(access.org.id, 0),
        quota=plan.monthly_quota,
        state=state,
        over_since=since,
        grace_until=grace_until,
        over_quota=settings.over_quota,
    )


# ---------------------------------------------------------------------------- operators


@admin_router.put("/admin/plans/{key}", operation_id="admin_save_plan")
async def save_plan(
    key: PlanKey,
    body: schemas.CustomPlan,
    operator: CurrentOperator,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.PlanPublic:
    """Create or replace a custom plan (audited). A settings plan's key is 409 plan-key-taken."""
    spec = PlanSpec.model_validate({**body.model_dump(), "key": key})
    plan = await service.save_custom_plan(db, settings=runtime.settings.plans, spec=spec, actor=who)
    return _public(plan)


@admin_router.delete("/admin/plans/{key}", status_code=204, operation_id="admin_delete_plan")
async def delete_plan(
    key: PlanKey, operator: CurrentOperator, db: DbSession, who: CurrentActor
) -> Response:
    """Remove a custom plan that no organisation is on (409 plan-in-use otherwise)."""
    await service.delete_custom_plan(db, key=key, actor=who)
    return Response(status_code=204)


@admin_router.put("/admin/orgs/{org_id}/plan", operation_id="admin_assign_plan")
async def assign_plan(
    org_id: uuid.UUID,
    body: schemas.PlanAssign,
    operator: CurrentOperator,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.PlanPublic:
    """Put an organisation on a plan (audited as plan.assign); 404 unknown-plan."""
    org = await admin.get_org(db, org_id=org_id)
    settings = runtime.settings.plans
    await service.assign_plan(db, settings=settings, org_id=org.id, plan_key=body.plan, actor=who)
    plan = await service.get_plan(db, settings, body.plan)
    assert plan is not None
    return _public(plan)
