"""/api/v1/orgs/{org_id}/ip-rules (organisation-wide), /orgs/{org_id}/sites/{site_id}/ip-rules
(one site's) and /orgs/{org_id}/sites/{site_id}/ip-policy. Reading needs ``sites:read``,
changing ``sites:write`` (developers and up; API keys with the ``sites:write`` scope). Every
change reaches the edge at once (the site cache is invalidated after the commit)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow
from haechi.platform.audit import service as audit
from haechi.platform.deps import (
    CurrentActor,
    DbSession,
    OrgAccess,
    RuntimeDep,
    SiteInOrg,
    require,
)
from haechi.platform.http import check_if_match, etag
from haechi.platform.iprules import schemas, service
from haechi.platform.iprules.models import IpRule
from haechi.platform.paging import Paging
from haechi.platform.sites.models import Site
from haechi.platform.txn import after_commit
from haechi.runtime import Runtime

router = APIRouter(tags=["ip_rules"])
Reader = Annotated[OrgAccess, require("sites:read")]
Writer = Annotated[OrgAccess, require("sites:write")]
# An organisation with more sites than this has its whole edge cache dropped instead.
_INVALIDATE_ONE_BY_ONE = 200


def _etag(rule: IpRule) -> str:
    return etag(rule.id, rule.updated_at, rule.action, rule.cidr, rule.note, rule.expires_at)


def _snapshot(rule: IpRule) -> dict[str, object]:
    return schemas.IpRulePublic.model_validate(rule).model_dump(
        mode="json", include={"site_id", "action", "cidr", "note", "expires_at"}
    )


async def _invalidate(db: AsyncSession, runtime: Runtime, rule: IpRule) -> None:
    """Tell the edge: the rule's site, or every site of the organisation."""
    if rule.site_id is not None:
        site = await db.get(Site, rule.site_id)
        keys: list[str | None] = [site.sitekey] if site is not None else []
    else:
        found = await service.org_sitekeys(db, org_id=rule.org_id)
        keys = list(found) if len(found) <= _INVALIDATE_ONE_BY_ONE else [None]

    async def tell() -> None:
        for key in keys:
            await runtime.invalidate_site(key)

    after_commit(db, tell)


async def _create(
    body: schemas.IpRuleCreate,
    access: OrgAccess,
    site_id: uuid.UUID | None,
    db: AsyncSession,
    runtime: Runtime,
    who: audit.Actor,
) -> schemas.IpRulePublic:
    rule = await service.create(db, org_id=access.org.id, site_id=site_id, data=body, now=utcnow())
    await _invalidate(db, runtime, rule)
    await audit.record(
        db,
        actor=who,
        action="ip-rule.create",
        org_id=access.org.id,
        target_type="ip-rule",
        target_id=rule.id,
        after=_snapshot(rule),
    )
    return schemas.IpRulePublic.model_validate(rule)


async def _list(
    access: OrgAccess, site_id: uuid.UUID | None, db: AsyncSession, paging: Paging
) -> schemas.IpRulesPage:
    rows, cursor = await service.list_page(db, org_id=access.org.id, site_id=site_id, params=paging)
    return schemas.IpRulesPage(
        data=[schemas.IpRulePublic.model_validate(r) for r in rows], next_cursor=cursor
    )


@router.post("/orgs/{org_id}/ip-rules", status_code=201, operation_id="ip_rules_create")
async def create_org_rule(
    body: schemas.IpRuleCreate,
    access: Writer,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.IpRulePublic:
    """An organisation-wide rule: it applies to every site of the organisation."""
    return await _create(body, access, None, db, runtime, who)


@router.get("/orgs/{org_id}/ip-rules", operation_id="ip_rules_list")
async def list_org_rules(access: Reader, db: DbSession, paging: Paging) -> schemas.IpRulesPage:
    """The organisation-wide rules, newest first (a site's own: ``…/sites/{id}/ip-rules``)."""
    return await _list(access, None, db, paging)


@router.post(
    "/orgs/{org_id}/sites/{site_id}/ip-rules",
    status_code=201,
    operation_id="ip_rules_create_for_site",
)
async def create_site_rule(
    body: schemas.IpRuleCreate,
    site: SiteInOrg,
    access: Writer,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.IpRulePublic:
    """A rule for one site (on top of the organisation-wide ones)."""
    return await _create(body, access, site.id, db, runtime, who)


@router.get("/orgs/{org_id}/sites/{site_id}/ip-rules", operation_id="ip_rules_list_for_site")
async def list_site_rules(
    site: SiteInOrg, access: Reader, db: DbSession, paging: Paging
) -> schemas.IpRulesPage:
    return await _list(access, site.id, db, paging)


@router.get("/orgs/{org_id}/ip-rules/{rule_id}", operation_id="ip_rules_get")
async def get_rule(
    rule_id: uuid.UUID, access: Reader, db: DbSession, response: Response
) -> schemas.IpRulePublic:
    """Any of the organisation's rules, organisation-wide or a site's."""
    rule = await service.get(db, org_id=access.org.id, rule_id=rule_id)
    response.headers["etag"] = _etag(rule)
    return schemas.IpRulePublic.model_validate(rule)


@router.patch("/orgs/{org_id}/ip-rules/{rule_id}", operation_id="ip_rules_update")
async def update_rule(
    rule_id: uuid.UUID,
    body: schemas.IpRuleUpdate,
    access: Writer,
    request: Request,
    response: Response,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.IpRulePublic:
    """Change a rule; send ``If-Match`` with the ETag you read to refuse lost updates (412)."""
    rule = await service.get(db, org_id=access.org.id, rule_id=rule_id)
    check_if_match(request, _etag(rule))
    before = _snapshot(rule)
    await service.update(db, rule=rule, data=body, now=utcnow())
    await _invalidate(db, runtime, rule)
    await audit.record(
        db,
        actor=who,
        action="ip-rule.update",
        org_id=access.org.id,
        target_type="ip-rule",
        target_id=rule.id,
        before=before,
        after=_snapshot(rule),
    )
    response.headers["etag"] = _etag(rule)
    return schemas.IpRulePublic.model_validate(rule)


@router.delete("/orgs/{org_id}/ip-rules/{rule_id}", status_code=204, operation_id="ip_rules_delete")
async def delete_rule(
    rule_id: uuid.UUID,
    access: Writer,
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> Response:
    rule = await service.get(db, org_id=access.org.id, rule_id=rule_id)
    check_if_match(request, _etag(rule))
    before = _snapshot(rule)
    await _invalidate(db, runtime, rule)
    await service.delete(db, rule=rule)
    await audit.record(
        db,
        actor=who,
        action="ip-rule.delete",
        org_id=access.org.id,
        target_type="ip-rule",
        target_id=rule_id,
        before=before,
    )
    return Response(status_code=204)


def _policy_etag(site: Site, skips: bool) -> str:
    return etag(site.id, "ip-policy", skips)


@router.get("/orgs/{org_id}/sites/{site_id}/ip-policy", operation_id="ip_rules_get_policy")
async def get_policy(
    site: SiteInOrg, access: Reader, db: DbSession, response: Response
) -> schemas.SiteIpPolicyPublic:
    """What an allowed address earns at this site (off unless set)."""
    row = await service.get_policy(db, site=site)
    skips = bool(row is not None and row.allow_skips_friction)
    response.headers["etag"] = _policy_etag(site, skips)
    return schemas.SiteIpPolicyPublic(site_id=site.id, allow_skips_friction=skips)


@router.put("/orgs/{org_id}/sites/{site_id}/ip-policy", operation_id="ip_rules_set_policy")
async def set_policy(
    body: schemas.SiteIpPolicyUpdate,
    site: SiteInOrg,
    access: Writer,
    request: Request,
    response: Response,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.SiteIpPolicyPublic:
    """Whether addresses on an allow list skip friction at this site (``If-Match`` honoured)."""
    row = await service.get_policy(db, site=site)
    before = bool(row is not None and row.allow_skips_friction)
    check_if_match(request, _policy_etag(site, before))
    await service.set_policy(
        db, site=site, allow_skips_friction=body.allow_skips_friction, now=utcnow()
    )
    sitekey = site.sitekey
    after_commit(db, lambda: runtime.invalidate_site(sitekey))
    await audit.record(
        db,
        actor=who,
        action="site.ip-policy",
        org_id=access.org.id,
        target_type="site",
        target_id=site.id,
        before={"allow_skips_friction": before},
        after={"allow_skips_friction": body.allow_skips_friction},
    )
    response.headers["etag"] = _policy_etag(site, body.allow_skips_friction)
    return schemas.SiteIpPolicyPublic(
        site_id=site.id, allow_skips_friction=body.allow_skips_friction
    )
