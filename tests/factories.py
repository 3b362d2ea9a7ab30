"""Factories for platform rows: users, organisations and memberships, sites, API keys, sessions.

Each takes an open session, flushes (never commits) and returns what a test needs, including
the secrets that exist only at creation (site secret, API key, access token).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.crypto import Keyring
from haechi.core.db import utcnow
from haechi.core.settings import PlatformSettings
from haechi.platform.accounts import passwords
from haechi.platform.accounts.models import User
from haechi.platform.apikeys import service as apikeys
from haechi.platform.apikeys.models import ApiKey
from haechi.platform.apikeys.schemas import ApiKeyCreate
from haechi.platform.auth import service as auth
from haechi.platform.orgs import service as orgs
from haechi.platform.orgs.models import Membership, Organisation
from haechi.platform.sites import service as sites
from haechi.platform.sites.models import Site
from haechi.platform.sites.schemas import SiteCreate

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)
# One hash for every factory user: Argon2 is slow on purpose, factories need not be.
_HASH: dict[str, str] = {}


def _password_hash(password: str) -> str:
    if password not in _HASH:
        _HASH[password] = passwords.hash_password(password)
    return _HASH[password]


async def user(
    db: AsyncSession,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    verified: bool = True,
    operator: bool = False,
    locale: str = "en",
) -> User:
    row = User(
        email=email or f"user{next(_counter)}@example.com",
        password_hash=_password_hash(password),
        email_verified_at=utcnow() if verified else None,
        is_operator=operator,
        locale=locale,
    )
    db.add(row)
    await db.flush()
    return row


async def org(db: AsyncSession, *, owner: User, name: str = "Acme") -> Organisation:
    return await orgs.create(db, name=name, owner=owner)


async def member(db: AsyncSession, *, org: Organisation, user: User, role: str) -> Membership:
    row = Membership(org_id=org.id, user_id=user.id, role=role)
    db.add(row)
    await db.flush()
    return row


@dataclass
class SiteWithSecret:
    site: Site
    secret: str


async def site(
    db: AsyncSession, *, org: Organisation, pepper: bytes, **fields: Any
) -> SiteWithSecret:
    data = SiteCreate(
        name=fields.pop("name", "Shop"),
        hostnames=fields.pop("hostnames", ["shop.example.com"]),
        **fields,
    )
    row, secret = await sites.create(db, org=org, data=data, pepper=pepper, allow_test_level=True)
    return SiteWithSecret(row, secret)


@dataclass
class KeyWithSecret:
    row: ApiKey
    key: str


async def api_key(
    db: AsyncSession, *, org: Organisation, pepper: bytes, scopes: list[str] | None = None
) -> KeyWithSecret:
    data = ApiKeyCreate(name="automation", scopes=scopes or ["read"])
    row, key = await apikeys.create(
        db, org_id=org.id, data=data, pepper=pepper, created_by=None, now=utcnow()
    )
    return KeyWithSecret(row, key)


async def access_token(
    db: AsyncSession, *, user: User, keyring: Keyring, settings: PlatformSettings | None = None
) -> str:
    issued = await auth.start(
        db,
        user=user,
        keyring=keyring,
        settings=settings or PlatformSettings(),
        ip="198.51.100.7",
        user_agent="factories",
    )
    return issued.access_token
