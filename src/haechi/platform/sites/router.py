"""/api/v1/orgs/{org_id}/sites: the organisation's sites over the same service the CLI uses.
Every change reaches the edge at once (the site cache is invalidated after the commit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from haechi.core.db import utcnow
from haechi.platform.audit import service as audit
from haechi.platform.deps import CurrentActor, DbSession, OrgAccess, RuntimeDep, SiteInOrg, require
from haechi.platform.http import check_if_match, etag
from haechi.platform.plans import service as plans
from haechi.platform.sites import schemas, service
from haechi.platform.sites.models import Site
from haechi.platform.txn import after_commit
from haechi.risk.policy import allows_test_level
from haechi.runtime import Runtime

router = APIRouter(tags=["sites"])
SiteReader = Annotated[OrgAccess, require("sites:read")]
SiteWriter = Annotated[OrgAccess, require("sites:write")]


def _etag(site: Site) -> str:
    return etag(
        site.id, site.updated_at, site.name, site.security_level, site.widget_mode, site.active
    )


def _snapshot(site: Site) -> dict[str, object]:
    return schemas.SitePublic.model_validate(site).model_dump(
        mode="json", include={"name", "hostnames", "security_level", "widget_mode", "active"}
    )


def _invalidate(db: object, runtime: Runtime, sitekey: str) -> None:
    after_commit(db, lambda: runtime.invalidate_site(sitekey))  # type: ignore[arg-type]


@router.post("/orgs/{org_id}/sites", status_code=201, operation_id="sites_create")
async def create_site(
    body: schemas.SiteCreate,
    access: SiteWriter,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.SiteCreated:
    """Register a site. The answer carries its secret, shown this once and never again.
    Refused with 403 ``plan-site-limit`` when the org's plan has no room for another."""
    await plans.check_site_limit(db, runtime.settings.plans, access.org.id)
    site, secret = await service.create(
        db,
        org=access.org,
        data=body,
        pepper=runtime.pepper,
        allow_test_level=allows_test_level(runtime.settings),
    )
    await audit.record(
        db,
        actor=who,
        action="site.create",
        org_id=access.org.id,
        target_type="site",
        target_id=site.id,
        after=_snapshot(site),
    )
    public = schemas.SitePublic.model_validate(site)
    return schemas.SiteCreated(**public.model_dump(), secret=secret)


@router.get("/orgs/{org_id}/sites", operation_id="sites_list")
async def list_sites(access: SiteReader, db: DbSession) -> schemas.SitesPublic:
    rows = await service.list(db, org=access.org)
    return schemas.SitesPublic(
        data=[schemas.SitePublic.model_validate(s) for s in rows], count=len(rows)
    )


@router.get("/orgs/{org_id}/sites/{site_id}", operation_id="sites_get")
async def get_site(site: SiteInOrg, access: SiteReader, response: Response) -> schemas.SitePublic:
    response.headers["etag"] = _etag(site)
    return schemas.SitePublic.model_validate(site)


@router.patch("/orgs/{org_id}/sites/{site_id}", operation_id="sites_update")
async def update_site(
    body: schemas.SiteUpdate,
    site: SiteInOrg,
    access: SiteWriter,
    request: Request,
    response: Response,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.SitePublic:
    """Change a site; send ``If-Match`` with the ETag you read to refuse lost updates (412)."""
    check_if_match(request, _etag(site))
    before = _snapshot(site)
    await service.update(
        db, site=site, data=body, allow_test_level=allows_test_level(runtime.settings)
    )
    site.updated_at = utcnow()
    await db.flush()
    _invalidate(db, runtime, site.sitekey)
    await audit.record(
        db,
        actor=who,
        action="site.update",
        org_id=access.org.id,
        target_type="site",
        target_id=site.id,
        before=before,
        after=_snapshot(site),
    )
    response.headers["etag"] = _etag(site)
    return schemas.SitePublic.model_validate(site)


@router.delete("/orgs/{org_id}/sites/{site_id}", status_code=204, operation_id="sites_delete")
async def delete_site(
    site: SiteInOrg, access: SiteWriter, db: DbSession, runtime: RuntimeDep, who: CurrentActor
) -> Response:
    before, site_id, sitekey = _snapshot(site), site.id, site.sitekey
    await service.delete(db, site=site)
    _invalidate(db, runtime, sitekey)
    await audit.record(
        db,
        actor=who,
        action="site.delete",
        org_id=access.org.id,
        target_type="site",
        target_id=site_id,
        before=before,
    )
    return Response(status_code=204)


@router.post("/orgs/{org_id}/sites/{site_id}/rotate-secret", operation_id="sites_rotate_secret")
async def rotate_secret(
    site: SiteInOrg, access: SiteWriter, db: DbSession, runtime: RuntimeDep, who: CurrentActor
) -> schemas.SiteCreated:
    """A new secret, shown once; the previous one keeps working for the grace period
    (``protocol.secret_grace_seconds``)."""
    secret = await service.rotate_secret(
        db,
        site=site,
        pepper=runtime.pepper,
        grace_seconds=runtime.settings.protocol.secret_grace_seconds,
        now=utcnow(),
    )
    _invalidate(db, runtime, site.sitekey)
    await audit.record(
        db,
        actor=who,
        action="site.rotate-secret",
        org_id=access.org.id,
        target_type="site",
        target_id=site.id,
        after={"secret": "rotated"},
    )
    public = schemas.SitePublic.model_validate(site)
    return schemas.SiteCreated(**public.model_dump(), secret=secret)
