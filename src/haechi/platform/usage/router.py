"""/api/v1/orgs/{org_id}/usage: analytics from the roll-ups, CSV export, the live view."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Response

from haechi.platform.deps import (
    CurrentOperator,
    DbSession,
    OrgAccess,
    RuntimeDep,
    SiteInOrg,
    require,
)
from haechi.platform.sites.models import Site
from haechi.platform.usage import schemas, service

router = APIRouter(tags=["usage"])
UsageReader = Annotated[OrgAccess, require("sites:read")]
Range = Annotated[schemas.UsageRange, Query(alias="range")]


@router.get("/orgs/{org_id}/usage", operation_id="usage_org")
async def org_usage(
    access: UsageReader, db: DbSession, period: Range = "30d"
) -> schemas.UsageSeriesPublic:
    """The organisation's counts over ``range``: hourly for 24h and 7d, daily for 30d and 90d,
    monthly for 12m; every bucket is present (zeros included)."""
    return await service.get_series(db, org_id=access.org.id, period=period)


@router.get("/orgs/{org_id}/usage/export.csv", operation_id="usage_export")
async def export_usage(access: UsageReader, db: DbSession, period: Range = "30d") -> Response:
    """The same counts per bucket and site as CSV (``time,sitekey,challenges,solves,verifies``)."""
    body = await service.get_csv(db, org_id=access.org.id, period=period)
    filename = f"haechi-usage-{access.org.id}-{period}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/orgs/{org_id}/usage/live", operation_id="usage_live")
async def live_usage(
    access: UsageReader, db: DbSession, runtime: RuntimeDep
) -> schemas.UsageLivePublic:
    """Counts not yet rolled up into SQL and each site's attack level, from the store."""
    sites = (await db.scalars(sa.select(Site).where(Site.org_id == access.org.id))).all()
    return await service.get_live(store=runtime.store, sites=sites)


@router.get("/orgs/{org_id}/sites/{site_id}/usage", operation_id="usage_site")
async def site_usage(
    site: SiteInOrg, access: UsageReader, db: DbSession, period: Range = "30d"
) -> schemas.UsageSeriesPublic:
    """One site's counts over ``range``, bucketed as for the organisation."""
    return await service.get_series(db, org_id=access.org.id, period=period, sitekey=site.sitekey)


@router.get("/orgs/{org_id}/sites/{site_id}/usage/export.csv", operation_id="usage_site_export")
async def export_site_usage(
    site: SiteInOrg, access: UsageReader, db: DbSession, period: Range = "30d"
) -> Response:
    body = await service.get_csv(db, org_id=access.org.id, period=period, sitekey=site.sitekey)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="haechi-usage-{site.id}-{period}.csv"'
        },
    )


@router.get("/admin/usage", operation_id="usage_all")
async def all_usage(
    operator: CurrentOperator, db: DbSession, period: Range = "30d"
) -> schemas.UsageSeriesPublic:
    """Operators: every organisation's counts together, bucketed as for one organisation."""
    return await service.get_series(db, org_id=None, period=period)


@router.get("/admin/usage/live", operation_id="usage_all_live")
async def all_live_usage(
    operator: CurrentOperator, db: DbSession, runtime: RuntimeDep
) -> schemas.UsageLivePublic:
    """Operators: every site's counts not yet rolled up and its current attack level."""
    sites = (await db.scalars(sa.select(Site))).all()
    return await service.get_live(store=runtime.store, sites=sites)
