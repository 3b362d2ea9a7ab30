"""Sites and their keys: creation, lookup, secret rotation.

Services flush but never commit: the request or job that calls them commits once. A site secret
exists in plaintext only in the return value of ``create`` and ``rotate_secret``; what is stored
and looked up is ``secret_digest(pepper, secret)``. Every ``now`` is timezone-aware UTC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.errors import Forbidden
from haechi.platform.sites.models import Organisation, Site
from haechi.platform.sites.schemas import SiteCreate, SiteUpdate, normalise_hostname

SITEKEY_PREFIX = "hk_"
SECRET_PREFIX = "hs_"
DEFAULT_ORG_SLUG = "default"

# Which stored digest a secret matched: the current one, or the one from before the last
# rotation (still inside its grace period).
SecretSlot = Literal["current", "previous"]

_BASE62 = string.digits + string.ascii_letters


def _base62(length: int) -> str:
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def generate_sitekey() -> str:
    """A public site key: ``hk_`` and 24 base62 characters (about 143 bits)."""
    return SITEKEY_PREFIX + _base62(24)


def generate_secret() -> str:
    """A site secret: ``hs_`` and 40 base62 characters (about 238 bits)."""
    return SECRET_PREFIX + _base62(40)


def secret_digest(pepper: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of ``secret`` keyed with the server's pepper: what the database holds."""
    if not pepper:
        raise ValueError("the secret pepper is empty; set HAECHI_KEYS__SECRET_PEPPER")
    return hmac.new(pepper, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def hostname_allowed(*, patterns: Iterable[str], hostname: str) -> bool:
    """Whether ``hostname`` (as a browser reports it) is one of a site's stored ``patterns``.

    ``*.example.com`` matches any subdomain at any depth, never ``example.com`` itself.
    """
    try:
        host = normalise_hostname(hostname)
    except ValueError:
        return False
    if host.startswith("*."):
        return False
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


TEST_LEVEL_REFUSED = (
    "security level 'test' (proof-of-work only) is refused when HAECHI_ENV=production; "
    "set HAECHI_POLICY__ALLOW_TEST_LEVEL=true to allow it"
)


def _check_level(level: str | None, allow_test_level: bool) -> None:
    # Callers pass haechi.risk.policy.allows_test_level(settings).
    if level == "test" and not allow_test_level:
        raise Forbidden(TEST_LEVEL_REFUSED, code="test-level-refused")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


# ---------------------------------------------------------------------------- organisations


async def get_or_create_default_org(session: AsyncSession) -> Organisation:
    """The organisation that owns sites in single-tenant use (slug ``default``)."""
    query = sa.select(Organisation).where(Organisation.slug == DEFAULT_ORG_SLUG)
    org = await session.scalar(query)
    if org is not None:
        return org
    try:
        # A savepoint, so that losing a race with another process leaves the session usable.
        async with session.begin_nested():
            org = Organisation(name="Default", slug=DEFAULT_ORG_SLUG)
            session.add(org)
    except IntegrityError:
        org = await session.scalar(query)
        if org is None:
            raise
    return org


# ---------------------------------------------------------------------------- sites


async def create(
    session: AsyncSession,
    *,
    org: Organisation,
    data: SiteCreate,
    pepper: bytes,
    is_demo: bool = False,
    allow_test_level: bool = False,
) -> tuple[Site, str]:
    """A new site in ``org``, and its plaintext secret: shown once, never stored. The ``test``
    security level needs ``allow_test_level`` (``haechi.risk.policy.allows_test_level``)."""
    _check_level(data.security_level, allow_test_level)
    secret = generate_secret()
    site = Site(
        org_id=org.id,
        name=data.name,
        sitekey=generate_sitekey(),
        secret_digest=secret_digest(pepper, secret),
        hostnames=[*data.hostnames],
        security_level=data.security_level,
        widget_mode=data.widget_mode,
        active=True,
        is_demo=is_demo,
    )
    session.add(site)
    await session.flush()
    return site, secret


async def get(session: AsyncSession, *, site_id: uuid.UUID) -> Site | None:
    return await session.get(Site, site_id)


async def get_by_sitekey(session: AsyncSession, *, sitekey: str) -> Site | None:
    return await session.scalar(sa.select(Site).where(Site.sitekey == sitekey))


async def org_suspended(session: AsyncSession, *, org_id: uuid.UUID) -> bool:
    """Whether the site's organisation is suspended (its sites then fail closed at the edge)."""
    when = await session.scalar(
        sa.select(Organisation.suspended_at).where(Organisation.id == org_id)
    )
    return when is not None


async def get_by_secret_digest(
    session: AsyncSession, *, digest: str, now: datetime
) -> tuple[Site, SecretSlot] | None:
    """The site whose current secret, or previous secret still in its grace period, has
    ``digest``; with which of the two matched. Inactive sites are returned too: the caller
    decides what an inactive site means."""
    _require_aware(now)
    query = sa.select(Site).where(
        sa.or_(
            Site.secret_digest == digest,
            sa.and_(
                Site.previous_secret_digest == digest,
                Site.previous_secret_expires_at > now,
            ),
        )
    )
    site = (await session.scalars(query)).first()
    if site is None:
        return None
    slot: SecretSlot = "current" if hmac.compare_digest(site.secret_digest, digest) else "previous"
    return site, slot


async def list(session: AsyncSession, *, org: Organisation | None = None) -> Sequence[Site]:
    """Sites of ``org`` (of every organisation when None), oldest first."""
    query = sa.select(Site).order_by(Site.created_at, Site.id)
    if org is not None:
        query = query.where(Site.org_id == org.id)
    return (await session.scalars(query)).all()


async def update(
    session: AsyncSession, *, site: Site, data: SiteUpdate, allow_test_level: bool = False
) -> Site:
    _check_level(data.security_level, allow_test_level)
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(site, field, value)
    await session.flush()
    return site


async def delete(session: AsyncSession, *, site: Site) -> None:
    await session.delete(site)
    await session.flush()


async def rotate_secret(
    session: AsyncSession, *, site: Site, pepper: bytes, grace_seconds: int, now: datetime
) -> str:
    """Give ``site`` a new secret and return it; the old one stays valid ``grace_seconds``.

    Only one old secret is kept: rotating again inside the grace period makes the secret being
    replaced the previous one and ends the older one at once.
    """
    _require_aware(now)
    secret = generate_secret()
    if grace_seconds > 0:
        site.previous_secret_digest = site.secret_digest
        site.previous_secret_expires_at = now + timedelta(seconds=grace_seconds)
    else:
        site.previous_secret_digest = None
        site.previous_secret_expires_at = None
    site.secret_digest = secret_digest(pepper, secret)
    site.updated_at = now
    await session.flush()
    return secret
