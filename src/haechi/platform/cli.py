"""``haechi users | orgs | api-keys | ip-rules | plans | admin | openapi``: the platform from the
server's shell, on the same services as the API (``haechi sites`` lives in ``haechi.cli``).
Every command takes ``--json``; actions are written to the audit log as the ``cli`` actor."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.errors import HaechiError
from haechi.platform.iprules.cli import ip_rules
from haechi.platform.plans.cli import plans

T = TypeVar("T")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _run(work: Callable[[Any, AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(runtime, session)`` against the configured database; commit when it returns."""
    from haechi.core.db import migrate
    from haechi.core.settings import Settings
    from haechi.runtime import Runtime

    async def main() -> T:
        try:
            settings = Settings()
        except ValueError as error:
            raise click.ClickException(f"bad settings: {error}") from None
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.db.auto_migrate:
            await migrate(settings.database_url)
        runtime = Runtime.build(settings)
        try:
            async with runtime.sessions() as session:
                try:
                    result = await work(runtime, session)
                except HaechiError as error:
                    raise click.ClickException(f"{error.message} ({error.code})") from None
                await session.commit()
                return result
        finally:
            await runtime.store.close()
            await runtime.engine.dispose()

    return asyncio.run(main())


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, datetime | uuid.UUID):
        return str(value)
    return value


def _print(value: Any, as_json: bool) -> None:
    data = _plain(value)
    if as_json:
        click.echo(json.dumps(data))
        return
    rows = data.get("data") if isinstance(data, dict) and "data" in data else None
    for row in rows if rows is not None else [data]:
        if isinstance(row, dict):
            click.echo("  ".join(f"{k}={v}" for k, v in row.items() if v not in (None, "")))
        else:
            click.echo(row)


def _actor() -> Any:
    from haechi.platform.audit.service import Actor

    return Actor(type="cli", id=None)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an id") from None


# ---------------------------------------------------------------------------- users


@click.group()
def users() -> None:
    """Accounts."""


@users.command("list")
@click.option("--search", default=None, help="Part of the e-mail address.")
@click.option("--limit", default=100, type=click.IntRange(1, 200))
@JSON
def users_list(search: str | None, limit: int, as_json: bool) -> None:
    from haechi.platform.accounts import schemas, service
    from haechi.platform.paging import Cursor

    async def work(runtime: Any, db: AsyncSession) -> schemas.UsersPublic:
        rows, cursor = await service.get_all(
            db, params=Cursor(cursor=None, limit=limit), search=search
        )
        return schemas.UsersPublic(
            data=[schemas.UserPublic.model_validate(u) for u in rows], next_cursor=cursor
        )

    _print(_run(work), as_json)


@users.command("create")
@click.option("--email", required=True)
@click.option("--locale", type=click.Choice(["en", "ko"]), default="en", show_default=True)
@click.password_option(
    "--password", envvar="HAECHI_NEW_PASSWORD", help="Prompted for, or HAECHI_NEW_PASSWORD."
)
@JSON
def users_create(email: str, locale: str, password: str, as_json: bool) -> None:
    """Create an account whose address counts as verified (an operator vouches for it)."""
    from haechi.platform.accounts import schemas, service

    try:
        data = schemas.UserCreate(email=email, password=password, locale=locale)
    except ValidationError as error:
        raise click.ClickException(error.errors()[0]["msg"]) from None

    async def work(runtime: Any, db: AsyncSession) -> schemas.UserPublic:
        user = await service.create(
            db, data=data, settings=runtime.settings, jobs=None, verified=True
        )
        from haechi.platform.audit import service as audit

        await audit.record(
            db, actor=_actor(), action="account.create", target_type="user", target_id=user.id
        )
        return schemas.UserPublic.model_validate(user)

    _print(_run(work), as_json)


# ---------------------------------------------------------------------------- orgs


@click.group()
def orgs() -> None:
    """Organisations."""


@orgs.command("list")
@click.option("--search", default=None)
@click.option("--limit", default=100, type=click.IntRange(1, 200))
@JSON
def orgs_list(search: str | None, limit: int, as_json: bool) -> None:
    from haechi.platform.admin import schemas, service
    from haechi.platform.paging import Cursor

    async def work(runtime: Any, db: AsyncSession) -> schemas.AdminOrgsPublic:
        rows, cursor = await service.get_orgs(
            db, params=Cursor(cursor=None, limit=limit), search=search
        )
        return schemas.AdminOrgsPublic(
            data=[schemas.AdminOrgPublic.model_validate(o) for o in rows], next_cursor=cursor
        )

    _print(_run(work), as_json)


@orgs.command("create")
@click.option("--name", required=True)
@click.option("--owner", "owner_email", required=True, help="The owner's e-mail address.")
@JSON
def orgs_create(name: str, owner_email: str, as_json: bool) -> None:
    from haechi.platform.accounts import service as accounts
    from haechi.platform.admin import schemas
    from haechi.platform.audit import service as audit
    from haechi.platform.orgs import service

    async def work(runtime: Any, db: AsyncSession) -> schemas.AdminOrgPublic:
        owner = await accounts.get_by_email(db, email=owner_email)
        if owner is None:
            raise click.ClickException(f"no account has the e-mail address {owner_email}")
        org = await service.create(db, name=name, owner=owner)
        await audit.record(
            db, actor=_actor(), action="org.create", org_id=org.id, target_type="org",
            target_id=org.id, after={"name": name, "owner": str(owner.id)},
        )  # fmt: skip
        return schemas.AdminOrgPublic.model_validate(org)

    _print(_run(work), as_json)


def _suspend_command(value: bool) -> Callable[[str, bool], None]:
    def command(org_id: str, as_json: bool) -> None:
        from haechi.platform.admin import schemas, service
        from haechi.platform.audit import service as audit

        async def work(runtime: Any, db: AsyncSession) -> schemas.AdminOrgPublic:
            org = await service.get_org(db, org_id=_uuid(org_id))
            await service.set_suspended(db, org=org, suspended=value)
            action = "admin.org-suspend" if value else "admin.org-unsuspend"
            await audit.record(
                db, actor=_actor(), action=action, org_id=org.id, target_type="org",
                target_id=org.id, after={"suspended": value},
            )  # fmt: skip
            # Other processes forget their cached sites (a running server reads the change).
            await db.commit()
            await runtime.invalidate_site(None)
            return schemas.AdminOrgPublic.model_validate(org)

        _print(_run(work), as_json)

    return command


orgs.command("suspend", help="Suspend an organisation: its sitekeys fail closed at the edge.")(
    click.argument("org_id")(JSON(_suspend_command(True)))
)
orgs.command("unsuspend", help="Lift a suspension.")(
    click.argument("org_id")(JSON(_suspend_command(False)))
)


# ---------------------------------------------------------------------------- api keys


@click.group("api-keys")
def api_keys() -> None:
    """Management API keys (``haechi keys generate`` is the server keyring)."""


@api_keys.command("create")
@click.option("--org", "org_id", required=True)
@click.option("--name", required=True)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(["read", "sites:write", "members:write", "audit:read"]),
)
@JSON
def api_keys_create(org_id: str, name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Create a key; it is printed this once."""
    from haechi.core.db import utcnow
    from haechi.platform.admin import service as admin
    from haechi.platform.apikeys import schemas, service
    from haechi.platform.audit import service as audit

    data = schemas.ApiKeyCreate(name=name, scopes=list(scopes))

    async def work(runtime: Any, db: AsyncSession) -> schemas.ApiKeyCreated:
        org = await admin.get_org(db, org_id=_uuid(org_id))
        row, key = await service.create(
            db, org_id=org.id, data=data, pepper=runtime.pepper, created_by=None, now=utcnow()
        )
        await audit.record(
            db, actor=_actor(), action="api-key.create", org_id=org.id, target_type="api-key",
            target_id=row.id, after={"name": name, "scopes": list(scopes)},
        )  # fmt: skip
        public = schemas.ApiKeyPublic.model_validate(row)
        return schemas.ApiKeyCreated(**public.model_dump(), key=key)

    _print(_run(work), as_json)


@api_keys.command("list")
@click.option("--org", "org_id", required=True)
@JSON
def api_keys_list(org_id: str, as_json: bool) -> None:
    from haechi.platform.apikeys import schemas, service

    async def work(runtime: Any, db: AsyncSession) -> schemas.ApiKeysPublic:
        rows = await service.get_all(db, org_id=_uuid(org_id))
        return schemas.ApiKeysPublic(data=[schemas.ApiKeyPublic.model_validate(r) for r in rows])

    _print(_run(work), as_json)


@api_keys.command("revoke")
@click.option("--org", "org_id", required=True)
@click.argument("key_id")
@JSON
def api_keys_revoke(org_id: str, key_id: str, as_json: bool) -> None:
    from haechi.core.db import utcnow
    from haechi.platform.apikeys import schemas, service
    from haechi.platform.audit import service as audit

    async def work(runtime: Any, db: AsyncSession) -> schemas.ApiKeyPublic:
        row = await service.get(db, org_id=_uuid(org_id), key_id=_uuid(key_id))
        await service.revoke(db, key=row, now=utcnow())
        await audit.record(
            db, actor=_actor(), action="api-key.revoke", org_id=row.org_id,
            target_type="api-key", target_id=row.id,
        )  # fmt: skip
        return schemas.ApiKeyPublic.model_validate(row)

    _print(_run(work), as_json)


# ---------------------------------------------------------------------------- admin


@click.group()
def admin() -> None:
    """Operators and the mail dead-letter queue."""


def _grant_command(value: bool) -> Callable[[str, bool], None]:
    def command(email: str, as_json: bool) -> None:
        from haechi.platform.accounts import schemas, service
        from haechi.platform.audit import service as audit

        async def work(runtime: Any, db: AsyncSession) -> schemas.UserPublic:
            user = await service.set_operator(db, email=email.strip().lower(), value=value)
            await audit.record(
                db, actor=_actor(), action="admin.grant" if value else "admin.revoke",
                target_type="user", target_id=user.id, after={"is_operator": value},
            )  # fmt: skip
            return schemas.UserPublic.model_validate(user)

        _print(_run(work), as_json)

    return command


admin.command("grant", help="Make the account with this e-mail address an operator.")(
    click.argument("email")(JSON(_grant_command(True)))
)
admin.command("revoke", help="Take the operator flag away.")(
    click.argument("email")(JSON(_grant_command(False)))
)


@admin.command("mail")
@click.argument("action", type=click.Choice(["list", "retry", "drop"]))
@click.argument("mail_id", required=False)
@click.option("--status", type=click.Choice(["pending", "sent", "dead"]), default="dead")
@JSON
def admin_mail(action: str, mail_id: str | None, status: str, as_json: bool) -> None:
    """List mail (dead by default), or retry or drop one dead mail."""
    from haechi.platform.admin import schemas
    from haechi.platform.audit import service as audit
    from haechi.platform.email import service as mail

    if action != "list" and not mail_id:
        raise click.UsageError(f"{action} needs a MAIL_ID")

    async def work(runtime: Any, db: AsyncSession) -> Any:
        if action == "list":
            rows = await mail.get_all(db, status=status)
            return schemas.MailsPublic(data=[schemas.MailPublic.model_validate(m) for m in rows])
        target = _uuid(mail_id or "")
        if action == "drop":
            await mail.drop(db, mail_id=target)
            await audit.record(
                db, actor=_actor(), action="admin.mail-drop", target_type="mail", target_id=target
            )
            return {"id": str(target), "status": "dropped"}
        row = await mail.retry(db, mail_id=target)
        await audit.record(
            db, actor=_actor(), action="admin.mail-retry", target_type="mail", target_id=target
        )
        # Picked up by the running server's resend job within minutes.
        return schemas.MailPublic.model_validate(row)

    _print(_run(work), as_json)


# ---------------------------------------------------------------------------- billing


@click.group()
def billing() -> None:
    """Billing: operators' credits (docs/usage-and-billing.md)."""


@billing.command("grant-credit")
@click.argument("org_id")
@click.option("--amount", required=True, type=int, help="KRW; negative corrects a grant down.")
@click.option("--reason", required=True)
@JSON
def billing_grant_credit(org_id: str, amount: int, reason: str, as_json: bool) -> None:
    """Credit an organisation: taken off its next charges (audited as billing.credit-grant)."""
    from haechi.core.db import utcnow
    from haechi.platform.billing import service

    async def work(runtime: Any, db: AsyncSession) -> dict[str, Any]:
        org = _uuid(org_id)
        credit = await service.grant_credit(
            db, org_id=org, amount=amount, reason=reason, actor=_actor(), now=utcnow()
        )
        return {
            "id": str(credit.id),
            "amount": credit.amount,
            "reason": credit.reason,
            "balance": await service.credit_balance(db, org),
        }

    _print(_run(work), as_json)


@billing.command("credits")
@click.argument("org_id")
@JSON
def billing_credits(org_id: str, as_json: bool) -> None:
    """An organisation's credit balance and ledger (grants and what charges used)."""
    import sqlalchemy as sa

    from haechi.platform.billing import service
    from haechi.platform.billing.models import Credit

    async def work(runtime: Any, db: AsyncSession) -> dict[str, Any]:
        org = _uuid(org_id)
        rows = (
            await db.scalars(
                sa.select(Credit).where(Credit.org_id == org).order_by(Credit.created_at)
            )
        ).all()
        return {
            "balance": await service.credit_balance(db, org),
            "data": [
                {"amount": c.amount, "reason": c.reason, "created_at": c.created_at} for c in rows
            ],
        }

    _print(_run(work), as_json)


@click.command("openapi")
@click.option("--output", type=click.Path(dir_okay=False), default=None)
def openapi(output: str | None) -> None:
    """Print the platform API's OpenAPI 3.1 document (the dashboard's client is built from it)."""
    from haechi.platform.app import openapi_document

    text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        click.echo(text, nl=False)


COMMANDS: tuple[click.Command, ...] = (
    users,
    orgs,
    api_keys,
    ip_rules,
    plans,
    admin,
    billing,
    openapi,
)
