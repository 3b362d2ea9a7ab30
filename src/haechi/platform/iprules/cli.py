"""``haechi ip-rules``: IP allow/deny rules from the server's shell, on the same service as the
API (``/api/v1/orgs/{org}/ip-rules``). Every command takes ``--json``; changes are audited as
the ``cli`` actor and reach the edge at once (the site cache's invalidation)."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _run(work: Any) -> Any:
    from haechi.platform.cli import _run as run

    return run(work)


def _print(value: Any, as_json: bool) -> None:
    from haechi.platform.cli import _print as show

    show(value, as_json)


def _actor() -> Any:
    from haechi.platform.cli import _actor as actor

    return actor()


def _uuid(value: str) -> Any:
    from haechi.platform.cli import _uuid as to_uuid

    return to_uuid(value)


_SNAPSHOT = {"site_id", "action", "cidr", "note", "expires_at"}


@click.group("ip-rules")
def ip_rules() -> None:
    """IP allow and deny lists, per organisation (every site) or per site (docs/platform.md)."""


async def _tell_edge(runtime: Any, db: AsyncSession, keys: list[str | None]) -> None:
    await db.commit()
    for key in keys:
        await runtime.invalidate_site(key)


async def _keys(db: AsyncSession, org_id: Any, site_id: Any) -> list[str | None]:
    from haechi.platform.iprules import service
    from haechi.platform.sites.models import Site

    if site_id is not None:
        site = await db.get(Site, site_id)
        return [site.sitekey] if site is not None else []
    return list(await service.org_sitekeys(db, org_id=org_id))


async def _site_in_org(db: AsyncSession, org_id: Any, site_id: str | None) -> Any:
    from haechi.core.errors import NotFound
    from haechi.platform.sites.models import Site

    if site_id is None:
        return None
    site = await db.get(Site, _uuid(site_id))
    if site is None or site.org_id != org_id:
        raise NotFound("no such site in that organisation")
    return site


@ip_rules.command("add")
@click.option("--org", "org_id", required=True)
@click.option("--site", "site_id", default=None, help="A site's id; without it, every site.")
@click.option("--action", type=click.Choice(["allow", "deny"]), required=True)
@click.option("--cidr", required=True, help="203.0.113.7, 203.0.113.0/24, 2001:db8::/32")
@click.option("--note", default=None)
@click.option("--expires", default=None, help="ISO 8601 time with a zone, e.g. 2027-01-01T00:00Z")
@JSON
def ip_rules_add(
    org_id: str,
    site_id: str | None,
    action: str,
    cidr: str,
    note: str | None,
    expires: str | None,
    as_json: bool,
) -> None:
    """Add a rule."""
    from haechi.core.db import utcnow
    from haechi.platform.admin import service as admin
    from haechi.platform.audit import service as audit
    from haechi.platform.iprules import schemas, service

    try:
        data = schemas.IpRuleCreate.model_validate(
            {"action": action, "cidr": cidr, "note": note, "expires_at": expires}
        )
    except ValidationError as error:
        raise click.BadParameter(error.errors()[0]["msg"]) from None

    async def work(runtime: Any, db: AsyncSession) -> schemas.IpRulePublic:
        org = await admin.get_org(db, org_id=_uuid(org_id))
        site = await _site_in_org(db, org.id, site_id)
        row = await service.create(
            db, org_id=org.id, site_id=site.id if site else None, data=data, now=utcnow()
        )
        public = schemas.IpRulePublic.model_validate(row)
        await audit.record(
            db, actor=_actor(), action="ip-rule.create", org_id=org.id, target_type="ip-rule",
            target_id=row.id, after=public.model_dump(mode="json", include=_SNAPSHOT),
        )  # fmt: skip
        await _tell_edge(runtime, db, await _keys(db, org.id, row.site_id))
        return public

    _print(_run(work), as_json)


@ip_rules.command("list")
@click.option("--org", "org_id", required=True)
@click.option("--site", "site_id", default=None, help="A site's rules; without it, the org's.")
@click.option("--limit", default=200, type=click.IntRange(1, 200))
@click.option("--cursor", default=None)
@JSON
def ip_rules_list(
    org_id: str, site_id: str | None, limit: int, cursor: str | None, as_json: bool
) -> None:
    """List rules, newest first (``next_cursor`` pages on)."""
    from haechi.platform import paging
    from haechi.platform.iprules import schemas, service

    async def work(runtime: Any, db: AsyncSession) -> schemas.IpRulesPage:
        org = _uuid(org_id)
        site = await _site_in_org(db, org, site_id)
        rows, after = await service.list_page(
            db,
            org_id=org,
            site_id=site.id if site else None,
            params=paging.Cursor(cursor=cursor, limit=limit),
        )
        return schemas.IpRulesPage(
            data=[schemas.IpRulePublic.model_validate(r) for r in rows], next_cursor=after
        )

    _print(_run(work), as_json)


@ip_rules.command("remove")
@click.option("--org", "org_id", required=True)
@click.argument("rule_id")
@JSON
def ip_rules_remove(org_id: str, rule_id: str, as_json: bool) -> None:
    """Delete a rule."""
    from haechi.platform.audit import service as audit
    from haechi.platform.iprules import schemas, service

    async def work(runtime: Any, db: AsyncSession) -> schemas.IpRulePublic:
        org = _uuid(org_id)
        row = await service.get(db, org_id=org, rule_id=_uuid(rule_id))
        public = schemas.IpRulePublic.model_validate(row)
        keys = await _keys(db, org, row.site_id)
        await service.delete(db, rule=row)
        await audit.record(
            db, actor=_actor(), action="ip-rule.delete", org_id=org, target_type="ip-rule",
            target_id=public.id, before=public.model_dump(mode="json", include=_SNAPSHOT),
        )  # fmt: skip
        await _tell_edge(runtime, db, keys)
        return public

    _print(_run(work), as_json)


@ip_rules.command("policy")
@click.option("--org", "org_id", required=True)
@click.option("--site", "site_id", required=True)
@click.option(
    "--skip-friction/--no-skip-friction",
    "skip",
    default=None,
    help="Whether allowed addresses skip friction at this site; left out, print the policy.",
)
@JSON
def ip_rules_policy(org_id: str, site_id: str, skip: bool | None, as_json: bool) -> None:
    """Show or set a site's IP policy."""
    from haechi.core.db import utcnow
    from haechi.platform.audit import service as audit
    from haechi.platform.iprules import schemas, service

    async def work(runtime: Any, db: AsyncSession) -> schemas.SiteIpPolicyPublic:
        org = _uuid(org_id)
        site = await _site_in_org(db, org, site_id)
        row = await service.get_policy(db, site=site)
        before = bool(row is not None and row.allow_skips_friction)
        if skip is None:
            return schemas.SiteIpPolicyPublic(site_id=site.id, allow_skips_friction=before)
        await service.set_policy(db, site=site, allow_skips_friction=skip, now=utcnow())
        await audit.record(
            db, actor=_actor(), action="site.ip-policy", org_id=org, target_type="site",
            target_id=site.id, before={"allow_skips_friction": before},
            after={"allow_skips_friction": skip},
        )  # fmt: skip
        await _tell_edge(runtime, db, [site.sitekey])
        return schemas.SiteIpPolicyPublic(site_id=site.id, allow_skips_friction=skip)

    _print(_run(work), as_json)


__all__ = ["ip_rules"]
