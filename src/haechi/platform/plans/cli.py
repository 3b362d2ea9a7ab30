"""``haechi plans``: the catalogue, custom plans and each organisation's plan from the server's
shell, on the services the admin API uses (audited as the ``cli`` actor)."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def plans() -> None:
    """Plans and quotas (off unless HAECHI_PLANS__ENABLED=true: every org is then unlimited)."""


@plans.command("list")
@JSON
def plans_list(as_json: bool) -> None:
    """The catalogue: settings' plans, then custom plans."""
    from haechi.platform.cli import _print, _run
    from haechi.platform.plans import schemas, service

    async def work(runtime: Any, db: AsyncSession) -> schemas.PlansPublic:
        settings = runtime.settings.plans
        found = await service.catalogue(db, settings)
        return schemas.PlansPublic(
            enabled=settings.enabled,
            default_plan=settings.default_plan,
            data=[schemas.PlanPublic.model_validate(p) for p in found.values()],
        )

    _print(_run(work), as_json)


@plans.command("show")
@click.argument("org_id")
@JSON
def plans_show(org_id: str, as_json: bool) -> None:
    """An organisation's plan, its verified tokens this month and its quota state."""
    from haechi.core.db import utcnow
    from haechi.platform.cli import _print, _run, _uuid
    from haechi.platform.plans import quota, service
    from haechi.platform.plans.models import OrgPlan

    async def work(runtime: Any, db: AsyncSession) -> dict[str, Any]:
        settings = runtime.settings.plans
        org = _uuid(org_id)
        plan = await service.plan_for_org(db, settings, org)
        used = await quota.used_this_month(db, runtime.store, now=utcnow(), org_id=org)
        row = await db.get(OrgPlan, org)
        return {
            "plan": plan.key,
            "assigned": await service.assigned_key(db, settings, org),
            "used": used.get(org, 0),
            "quota": plan.monthly_quota,
            "state": row.state if row is not None and settings.enabled else "ok",
        }

    _print(_run(work), as_json)


@plans.command("assign")
@click.argument("org_id")
@click.argument("plan")
@JSON
def plans_assign(org_id: str, plan: str, as_json: bool) -> None:
    """Put an organisation on a plan (audited as plan.assign)."""
    from haechi.platform.admin import service as admin
    from haechi.platform.cli import _actor, _print, _run, _uuid
    from haechi.platform.plans import service

    async def work(runtime: Any, db: AsyncSession) -> dict[str, str]:
        org = await admin.get_org(db, org_id=_uuid(org_id))
        await service.assign_plan(
            db, settings=runtime.settings.plans, org_id=org.id, plan_key=plan, actor=_actor()
        )
        await db.commit()
        await runtime.invalidate_site(None)
        return {"org": str(org.id), "plan": plan}

    _print(_run(work), as_json)


@plans.command("save")
@click.argument("key")
@click.option("--name", required=True)
@click.option("--price-krw", type=click.IntRange(0), default=0, help="Monthly, VAT included.")
@click.option("--quota", type=click.IntRange(0), default=None, help="Verified tokens a month.")
@click.option("--max-sites", type=click.IntRange(0), default=None)
@click.option("--max-members", type=click.IntRange(1), default=None)
@click.option("--retention-days", type=click.IntRange(1), default=30)
@click.option("--ip-rules/--no-ip-rules", default=False)
@click.option("--audit-export/--no-audit-export", default=False)
@click.option("--overage-krw-per-1000", type=click.IntRange(0), default=0)
@JSON
def plans_save(
    key: str,
    name: str,
    price_krw: int,
    quota: int | None,
    max_sites: int | None,
    max_members: int | None,
    retention_days: int,
    ip_rules: bool,
    audit_export: bool,
    overage_krw_per_1000: int,
    as_json: bool,
) -> None:
    """Create or replace a custom plan (omitted limits are unlimited; audited as plan.save)."""
    from pydantic import ValidationError

    from haechi.core.settings import PlanSpec
    from haechi.platform.cli import _actor, _print, _run
    from haechi.platform.plans import schemas, service

    try:
        spec = PlanSpec(
            key=key, name=name, price_krw=price_krw, monthly_quota=quota, max_sites=max_sites,
            max_members=max_members, retention_days=retention_days, ip_rules=ip_rules,
            audit_export=audit_export, overage_krw_per_1000=overage_krw_per_1000,
        )  # fmt: skip
    except ValidationError as error:
        raise click.BadParameter(str(error.errors()[0]["msg"])) from None

    async def work(runtime: Any, db: AsyncSession) -> schemas.PlanPublic:
        plan = await service.save_custom_plan(
            db, settings=runtime.settings.plans, spec=spec, actor=_actor()
        )
        return schemas.PlanPublic.model_validate(plan)

    _print(_run(work), as_json)


@plans.command("delete")
@click.argument("key")
def plans_delete(key: str) -> None:
    """Remove a custom plan no organisation is on."""
    from haechi.platform.cli import _actor, _run
    from haechi.platform.plans import service

    async def work(runtime: Any, db: AsyncSession) -> None:
        await service.delete_custom_plan(db, key=key, actor=_actor())

    _run(work)
    click.echo(f"deleted {key}")
