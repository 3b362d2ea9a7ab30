"""/api/v1/orgs/{org_id}/audit: the organisation's audit log, newest first, cursor paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from haechi.platform.audit import schemas, service
from haechi.platform.deps import DbSession, OrgAccess, require
from haechi.platform.paging import Paging

router = APIRouter(tags=["audit"])
AuditReader = Annotated[OrgAccess, require("audit:read")]
Filter = Annotated[str | None, Query(max_length=64)]


@router.get("/orgs/{org_id}/audit", operation_id="audit_list")
async def list_events(
    access: AuditReader,
    db: DbSession,
    paging: Paging,
    action: Filter = None,
    actor_id: Filter = None,
    target_id: Filter = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> schemas.AuditEventsPublic:
    rows, cursor = await service.get_all(
        db,
        org_id=access.org.id,
        params=paging,
        action=action,
        actor_id=actor_id,
        target_id=target_id,
        since=since,
        until=until,
    )
    return schemas.AuditEventsPublic(
        data=[schemas.AuditEventPublic.model_validate(r) for r in rows], next_cursor=cursor
    )
