"""Operator actions: find organisations, suspend and unsuspend them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow
from haechi.core.errors import NotFound
from haechi.platform.orgs.models import Organisation
from haechi.platform.paging import Cursor, keyset, page


async def get_orgs(
    db: AsyncSession, *, params: Cursor, search: str | None = None
) -> tuple[Sequence[Organisation], str | None]:
    query = sa.select(Organisation)
    if search:
        term = "%" + search.lower().replace("%", "").replace("_", "").replace("\\", "") + "%"
        query = query.where(
            sa.or_(sa.func.lower(Organisation.name).like(term), Organisation.slug.like(term))
        )
    rows = (await db.scalars(keyset(query, Organisation, params))).all()
    return page(rows, params)


async def get_org(db: AsyncSession, *, org_id: uuid.UUID) -> Organisation:
    org = await db.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation")
    return org


async def set_suspended(db: AsyncSession, *, org: Organisation, suspended: bool) -> Organisation:
    org.suspended_at = (org.suspended_at or utcnow()) if suspended else None
    org.updated_at = utcnow()
    await db.flush()
    return org
