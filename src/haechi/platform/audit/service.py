"""Write and read the audit log. Values under secret-looking keys are masked before storage."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow
from haechi.platform.audit.models import AuditEvent
from haechi.platform.paging import Cursor, keyset, page

_SECRET_WORDS = ("secret", "password", "token", "digest", "key_value", "api_key")
MASK = "***"


@dataclass
class Actor:
    type: str
    id: str | None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


def mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (MASK if any(w in str(k).lower() for w in _SECRET_WORDS) else mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


async def record(
    db: AsyncSession,
    *,
    actor: Actor,
    action: str,
    org_id: uuid.UUID | None = None,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        org_id=org_id,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        before=mask(before) if before is not None else None,
        after=mask(after) if after is not None else None,
        ip=actor.ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
        created_at=utcnow(),
    )
    db.add(event)
    await db.flush()
    return event


async def get_all(
    db: AsyncSession,
    *,
    org_id: uuid.UUID | None,
    params: Cursor,
    action: str | None = None,
    actor_id: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[Sequence[AuditEvent], str | None]:
    query = sa.select(AuditEvent)
    if org_id is not None:
        query = query.where(AuditEvent.org_id == org_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    if target_id:
        query = query.where(AuditEvent.target_id == target_id)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    rows = (await db.scalars(keyset(query, AuditEvent, params))).all()
    return page(rows, params)


async def prune(db: AsyncSession, *, retention_days: int, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    result = await db.execute(sa.delete(AuditEvent).where(AuditEvent.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
