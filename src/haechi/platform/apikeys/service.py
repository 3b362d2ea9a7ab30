"""Management API keys: ``hak_`` + 40 base62 characters, stored as HMAC-SHA256 digests under
the server's pepper (like site secrets), looked up by digest and compared in constant time."""

from __future__ import annotations

import hmac
import secrets
import string
import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.crypto import secret_digest
from haechi.core.errors import Invalid, NotFound, Unauthorized
from haechi.platform.apikeys.models import ApiKey
from haechi.platform.apikeys.schemas import ApiKeyCreate

KEY_PREFIX = "hak_"
_BASE62 = string.digits + string.ascii_letters


def generate() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_BASE62) for _ in range(40))


async def create(
    db: AsyncSession,
    *,
    org_id: uuid.UUID,
    data: ApiKeyCreate,
    pepper: bytes,
    created_by: uuid.UUID | None,
    now: datetime,
) -> tuple[ApiKey, str]:
    if data.expires_at is not None and (data.expires_at.tzinfo is None or data.expires_at <= now):
        raise Invalid("expires_at must be a future time with a zone", code="invalid-expiry")
    key = generate()
    row = ApiKey(
        org_id=org_id,
        name=data.name,
        prefix=key[:12],
        digest=secret_digest(pepper, key),
        scopes=sorted(set(data.scopes)),
        expires_at=data.expires_at,
        created_by=created_by,
    )
    db.add(row)
    await db.flush()
    return row, key


async def authenticate(db: AsyncSession, *, token: str, pepper: bytes, now: datetime) -> ApiKey:
    if len(token) > 100:
        raise Unauthorized("the API key is not valid")
    digest = secret_digest(pepper, token)
    row = await db.scalar(sa.select(ApiKey).where(ApiKey.digest == digest))
    if row is None or not hmac.compare_digest(row.digest, digest):
        raise Unauthorized("the API key is not valid")
    if row.revoked_at is not None:
        raise Unauthorized("this API key was revoked", code="api-key-revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("this API key has expired", code="api-key-expired")
    return row


async def touch(db: AsyncSession, *, key: ApiKey, ip: str, now: datetime) -> None:
    """Record the last use (at most once a minute per key, to spare the database)."""
    if (
        key.last_used_at is None
        or (now - key.last_used_at).total_seconds() >= 60
        or (key.last_used_ip != ip)
    ):
        key.last_used_at = now
        key.last_used_ip = ip[:45]
        await db.flush()


async def get_all(db: AsyncSession, *, org_id: uuid.UUID) -> Sequence[ApiKey]:
    query = (
        sa.select(ApiKey)
        .where(ApiKey.org_id == org_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return (await db.scalars(query)).all()


async def get(db: AsyncSession, *, org_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    row = await db.get(ApiKey, key_id)
    if row is None or row.org_id != org_id:
        raise NotFound("no such API key")
    return row


async def revoke(db: AsyncSession, *, key: ApiKey, now: datetime) -> ApiKey:
    key.revoked_at = key.revoked_at or now
    await db.flush()
    return key
