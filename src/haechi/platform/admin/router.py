"""/api/v1/admin: the operator API (users with the operator flag). Every action is audited."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from haechi.platform.accounts import schemas as account_schemas
from haechi.platform.accounts import service as accounts
from haechi.platform.admin import schemas, service
from haechi.platform.audit import service as audit
from haechi.platform.deps import CurrentActor, CurrentOperator, DbSession, RuntimeDep
from haechi.platform.email import service as mail
from haechi.platform.email.jobs import SEND_MAIL
from haechi.platform.paging import Paging
from haechi.platform.sites import schemas as site_schemas
from haechi.platform.sites import service as sites
from haechi.platform.txn import after_commit

router = APIRouter(prefix="/admin", tags=["admin"])
Search = Annotated[str | None, Query(max_length=100)]


@router.get("/users", operation_id="admin_list_users")
async def list_users(
    operator: CurrentOperator, db: DbSession, paging: Paging, q: Search = None
) -> account_schemas.UsersPublic:
    rows, cursor = await accounts.get_all(db, params=paging, search=q)
    return account_schemas.UsersPublic(
        data=[account_schemas.UserPublic.model_validate(u) for u in rows], next_cursor=cursor
    )


@router.get("/orgs", operation_id="admin_list_orgs")
async def list_orgs(
    operator: CurrentOperator, db: DbSession, paging: Paging, q: Search = None
) -> schemas.AdminOrgsPublic:
    rows, cursor = await service.get_orgs(db, params=paging, search=q)
    return schemas.AdminOrgsPublic(
        data=[schemas.AdminOrgPublic.model_validate(o) for o in rows], next_cursor=cursor
    )


@router.get("/orgs/{org_id}/sites", operation_id="admin_list_org_sites")
async def list_org_sites(
    org_id: uuid.UUID, operator: CurrentOperator, db: DbSession
) -> schemas.AdminSitesPublic:
    org = await service.get_org(db, org_id=org_id)
    rows = await sites.list(db, org=org)
    return schemas.AdminSitesPublic(data=[site_schemas.SitePublic.model_validate(s) for s in rows])


async def _suspend(
    org_id: uuid.UUID, value: bool, db: DbSession, runtime: RuntimeDep, who: CurrentActor
) -> schemas.AdminOrgPublic:
    org = await service.get_org(db, org_id=org_id)
    before = {"suspended": org.suspended_at is not None}
    await service.set_suspended(db, org=org, suspended=value)
    # The edge forgets every cached site, so the org's sitekeys fail closed (or work) at once.
    after_commit(db, lambda: runtime.invalidate_site(None))
    await audit.record(
        db,
        actor=who,
        action="admin.org-suspend" if value else "admin.org-unsuspend",
        org_id=org.id,
        target_type="org",
        target_id=org.id,
        before=before,
        after={"suspended": value},
    )
    return schemas.AdminOrgPublic.model_validate(org)


@router.post("/orgs/{org_id}/suspend", operation_id="admin_suspend_org")
async def suspend_org(
    org_id: uuid.UUID,
    operator: CurrentOperator,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.AdminOrgPublic:
    """Suspend an organisation: its sitekeys fail closed at the edge (``site-suspended``) and
    its members can read but not change anything."""
    return await _suspend(org_id, True, db, runtime, who)


@router.post("/orgs/{org_id}/unsuspend", operation_id="admin_unsuspend_org")
async def unsuspend_org(
    org_id: uuid.UUID,
    operator: CurrentOperator,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.AdminOrgPublic:
    return await _suspend(org_id, False, db, runtime, who)


@router.get("/mail", operation_id="admin_list_mail")
async def list_mail(
    operator: CurrentOperator, db: DbSession, status: Literal["pending", "sent", "dead"] = "dead"
) -> schemas.MailsPublic:
    rows = await mail.get_all(db, status=status)
    return schemas.MailsPublic(data=[schemas.MailPublic.model_validate(m) for m in rows])


@router.post("/mail/{mail_id}/retry", operation_id="admin_retry_mail")
async def retry_mail(
    mail_id: uuid.UUID,
    operator: CurrentOperator,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.MailPublic:
    row = await mail.retry(db, mail_id=mail_id)
    jobs = runtime.jobs
    if jobs is not None:
        after_commit(db, lambda: jobs.enqueue(SEND_MAIL, mail_id=str(mail_id)))
    await audit.record(
        db, actor=who, action="admin.mail-retry", target_type="mail", target_id=mail_id
    )
    return schemas.MailPublic.model_validate(row)


@router.delete("/mail/{mail_id}", status_code=204, operation_id="admin_drop_mail")
async def drop_mail(
    mail_id: uuid.UUID, operator: CurrentOperator, db: DbSession, who: CurrentActor
) -> None:
    await mail.drop(db, mail_id=mail_id)
    await audit.record(
        db, actor=who, action="admin.mail-drop", target_type="mail", target_id=mail_id
    )
