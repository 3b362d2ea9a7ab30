"""/api/v1/orgs/{org_id}/api-keys: management keys (admins and owners only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from haechi.core.db import utcnow
from haechi.platform.apikeys import schemas, service
from haechi.platform.audit import service as audit
from haechi.platform.deps import CurrentActor, DbSession, OrgAccess, RuntimeDep, require

router = APIRouter(tags=["api_keys"])
KeyReader = Annotated[OrgAccess, require("keys:read")]
KeyWriter = Annotated[OrgAccess, require("keys:write")]


@router.post("/orgs/{org_id}/api-keys", status_code=201, operation_id="api_keys_create")
async def create_key(
    body: schemas.ApiKeyCreate,
    access: KeyWriter,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.ApiKeyCreated:
    """A new key, shown this once (``Authorization: Bearer hak_…``)."""
    user = access.principal.user
    row, key = await service.create(
        db,
        org_id=access.org.id,
        data=body,
        pepper=runtime.pepper,
        created_by=user.id if user is not None else None,
        now=utcnow(),
    )
    await audit.record(
        db,
        actor=who,
        action="api-key.create",
        org_id=access.org.id,
        target_type="api-key",
        target_id=row.id,
        after={"name": row.name, "scopes": row.scopes, "prefix": row.prefix},
    )
    public = schemas.ApiKeyPublic.model_validate(row)
    return schemas.ApiKeyCreated(**public.model_dump(), key=key)


@router.get("/orgs/{org_id}/api-keys", operation_id="api_keys_list")
async def list_keys(access: KeyReader, db: DbSession) -> schemas.ApiKeysPublic:
    rows = await service.get_all(db, org_id=access.org.id)
    return schemas.ApiKeysPublic(data=[schemas.ApiKeyPublic.model_validate(r) for r in rows])


@router.get("/orgs/{org_id}/api-keys/{key_id}", operation_id="api_keys_get")
async def get_key(key_id: uuid.UUID, access: KeyReader, db: DbSession) -> schemas.ApiKeyPublic:
    return schemas.ApiKeyPublic.model_validate(
        await service.get(db, org_id=access.org.id, key_id=key_id)
    )


@router.delete("/orgs/{org_id}/api-keys/{key_id}", operation_id="api_keys_revoke")
async def revoke_key(
    key_id: uuid.UUID, access: KeyWriter, db: DbSession, who: CurrentActor
) -> schemas.ApiKeyPublic:
    """Revoke a key: it stops working at once (the row stays, for the audit trail)."""
    row = await service.get(db, org_id=access.org.id, key_id=key_id)
    await service.revoke(db, key=row, now=utcnow())
    await audit.record(
        db,
        actor=who,
        action="api-key.revoke",
        org_id=access.org.id,
        target_type="api-key",
        target_id=row.id,
    )
    return schemas.ApiKeyPublic.model_validate(row)
