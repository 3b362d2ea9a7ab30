"""IP rules over SQL, and their edge form (``haechi.protocol.iprules``) for the site cache.

Every query is scoped by the organisation. A site's edge rules are its own plus its
organisation's (``site_id`` null). Building them costs one address parse per rule, so the
built set is kept per site and reused while the rules are unchanged (one aggregate query tells):
a site with 10,000 rules costs its cache refresh a small query, not 10,000 parses.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.errors import Conflict, Invalid, NotFound
from haechi.platform import paging
from haechi.platform.iprules.models import IpRule, SiteIpPolicy
from haechi.platform.iprules.schemas import IpRuleCreate, IpRuleUpdate
from haechi.platform.sites.models import Site
from haechi.protocol.iprules import ALLOW, DENY, EdgeRule, IpRuleSet

# Per scope (one site, or the organisation-wide list).
MAX_RULES = 10_000
_MAX_CACHED_SETS = 10_000


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise Invalid("expires_at must be a future time with a zone", code="invalid-expiry")


def _scope(query: sa.Select[Any], org_id: uuid.UUID, site_id: uuid.UUID | None) -> sa.Select[Any]:
    query = query.where(IpRule.org_id == org_id)
    if site_id is None:
        return query.where(IpRule.site_id.is_(None))
    return query.where(IpRule.site_id == site_id)


async def create(
    db: AsyncSession,
    *,
    org_id: uuid.UUID,
    site_id: uuid.UUID | None,
    data: IpRuleCreate,
    now: datetime,
) -> IpRule:
    _check_expiry(data.expires_at, now)
    count = await db.scalar(_scope(sa.select(sa.func.count(IpRule.id)), org_id, site_id))
    if (count or 0) >= MAX_RULES:
        raise Conflict(
            f"at most {MAX_RULES} IP rules per site and per organisation", code="ip-rule-limit"
        )
    row = IpRule(
        org_id=org_id,
        site_id=site_id,
        action=data.action,
        cidr=data.cidr,
        note=data.note or None,
        expires_at=data.expires_at,
    )
    db.add(row)
    await db.flush()
    return row


async def list_page(
    db: AsyncSession, *, org_id: uuid.UUID, site_id: uuid.UUID | None, params: paging.Cursor
) -> tuple[list[IpRule], str | None]:
    query = paging.keyset(_scope(sa.select(IpRule), org_id, site_id), IpRule, params)
    return paging.page((await db.scalars(query)).all(), params)


async def get(db: AsyncSession, *, org_id: uuid.UUID, rule_id: uuid.UUID) -> IpRule:
    row = await db.get(IpRule, rule_id)
    if row is None or row.org_id != org_id:
        raise NotFound("no such IP rule")
    return row


async def update(db: AsyncSession, *, rule: IpRule, data: IpRuleUpdate, now: datetime) -> IpRule:
    fields = data.model_fields_set
    if "action" in fields:
        if data.action is None:
            raise Invalid("action cannot be null", code="invalid")
        rule.action = data.action
    if "cidr" in fields:
        if data.cidr is None:
            raise Invalid("cidr cannot be null", code="invalid")
        rule.cidr = data.cidr
    if "note" in fields:
        rule.note = data.note or None
    if "expires_at" in fields:
        _check_expiry(data.expires_at, now)
        rule.expires_at = data.expires_at
    rule.updated_at = now
    await db.flush()
    return rule


async def delete(db: AsyncSession, *, rule: IpRule) -> None:
    await db.delete(rule)
    await db.flush()


async def get_policy(db: AsyncSession, *, site: Site) -> SiteIpPolicy | None:
    return await db.get(SiteIpPolicy, site.id)


async def set_policy(
    db: AsyncSession, *, site: Site, allow_skips_friction: bool, now: datetime
) -> SiteIpPolicy:
    row = await db.get(SiteIpPolicy, site.id)
    if row is None:
        row = SiteIpPolicy(site_id=site.id, org_id=site.org_id)
        db.add(row)
    row.allow_skips_friction = allow_skips_friction
    row.updated_at = now
    await db.flush()
    return row


async def org_sitekeys(db: AsyncSession, *, org_id: uuid.UUID) -> list[str]:
    return list((await db.scalars(sa.select(Site.sitekey).where(Site.org_id == org_id))).all())


# ---------------------------------------------------------------------------- the edge's form


def edge_rule(cidr: str, action: str, expires_at: datetime | None) -> EdgeRule:
    network = ipaddress.ip_network(cidr, strict=False)
    return EdgeRule(
        family=network.version,
        first=int(network.network_address),
        last=int(network.broadcast_address),
        action=DENY if action == "deny" else ALLOW,
        expires=expires_at.timestamp() if expires_at is not None else None,
    )


# site id -> (fingerprint of its rules, the built set)
_built: dict[uuid.UUID, tuple[tuple[Any, ...], IpRuleSet]] = {}


def _applies(site: Site) -> sa.ColumnElement[bool]:
    return sa.and_(
        IpRule.org_id == site.org_id, sa.or_(IpRule.site_id == site.id, IpRule.site_id.is_(None))
    )


async def edge_rules(db: AsyncSession, *, site: Site, now: datetime) -> IpRuleSet | None:
    """The rules the edge applies to ``site`` (its own and its organisation's), or None when
    there are none (the edge then spends nothing on them)."""
    # Any change moves one of the two: a deletion the count, an insert or update the newest
    # time (an insert that replaces a deletion in one transaction moves the time).
    count, newest = (
        await db.execute(
            sa.select(sa.func.count(IpRule.id), sa.func.max(IpRule.updated_at)).where(
                _applies(site)
            )
        )
    ).one()
    if not count:
        _built.pop(site.id, None)
        return None
    policy = await db.get(SiteIpPolicy, site.id)
    skips = bool(policy is not None and policy.allow_skips_friction)
    fingerprint = (count, newest)
    cached = _built.get(site.id)
    if cached is not None and cached[0] == fingerprint:
        cached[1].allow_skips_friction = skips
        return cached[1]
    rows: Sequence[Any] = (
        await db.execute(
            sa.select(IpRule.cidr, IpRule.action, IpRule.expires_at).where(
                _applies(site), sa.or_(IpRule.expires_at.is_(None), IpRule.expires_at > now)
            )
        )
    ).all()
    rules = [edge_rule(cidr, action, expires) for cidr, action, expires in rows]
    built = IpRuleSet(rules, allow_skips_friction=skips, now=now.timestamp())
    if len(_built) >= _MAX_CACHED_SETS:
        _built.clear()
    _built[site.id] = (fingerprint, built)
    return built
