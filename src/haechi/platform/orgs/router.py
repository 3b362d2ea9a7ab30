"""/api/v1/orgs: organisations, members, invitations. Every path names the org; the guards in
``haechi.platform.deps`` check membership (404 for strangers) and role (403)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from haechi.core.errors import Forbidden
from haechi.platform.accounts import schemas as account_schemas
from haechi.platform.accounts import service as accounts
from haechi.platform.audit import service as audit
from haechi.platform.auth import service as auth
from haechi.platform.deps import (
    CurrentActor,
    CurrentOrg,
    CurrentUser,
    DbSession,
    OrgAccess,
    RuntimeDep,
    require,
)
from haechi.platform.http import check_if_match, etag
from haechi.platform.orgs import schemas, service
from haechi.platform.orgs.models import Organisation
from haechi.platform.plans import service as plans
from haechi.platform.txn import after_commit

router = APIRouter(tags=["orgs"])
# Deleting an account decides about the orgs it owns, so it lives above orgs.
me = APIRouter(tags=["me"])
members = APIRouter(tags=["members"])
invitations = APIRouter(tags=["invitations"])

OrgWriter = Annotated[OrgAccess, require("org:write")]
OrgDeleter = Annotated[OrgAccess, require("org:delete")]
OrgTransferer = Annotated[OrgAccess, require("org:transfer")]
MemberReader = Annotated[OrgAccess, require("members:read")]
MemberWriter = Annotated[OrgAccess, require("members:write")]


def _public(org: Organisation, role: str | None) -> schemas.OrgPublic:
    return schemas.OrgPublic(
        id=org.id,
        name=org.name,
        slug=org.slug,
        suspended=org.suspended_at is not None,
        role=role,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def _etag(org: Organisation) -> str:
    return etag(org.id, org.name, org.updated_at, org.suspended_at)


@router.post("/orgs", status_code=201, operation_id="orgs_create")
async def create_org(
    body: schemas.OrgCreate, user: CurrentUser, db: DbSession, who: CurrentActor
) -> schemas.OrgPublic:
    """Create an organisation; the caller becomes its owner. Needs a verified e-mail."""
    if user.email_verified_at is None:
        raise Forbidden("verify your e-mail address first", code="email-unverified")
    org = await service.create(db, name=body.name, owner=user)
    await audit.record(
        db,
        actor=who,
        action="org.create",
        org_id=org.id,
        target_type="org",
        target_id=org.id,
        after={"name": org.name},
    )
    return _public(org, "owner")


@router.get("/orgs", operation_id="orgs_list")
async def list_orgs(user: CurrentUser, db: DbSession) -> schemas.OrgsPublic:
    """The organisations the caller belongs to, with the caller's role in each."""
    rows = await service.get_all_for_user(db, user=user)
    return schemas.OrgsPublic(data=[_public(org, role) for org, role in rows])


@router.get("/orgs/{org_id}", operation_id="orgs_get")
async def get_org(access: CurrentOrg, response: Response) -> schemas.OrgPublic:
    response.headers["etag"] = _etag(access.org)
    return _public(access.org, access.role)


@router.patch("/orgs/{org_id}", operation_id="orgs_update")
async def update_org(
    body: schemas.OrgUpdate,
    request: Request,
    response: Response,
    access: OrgWriter,
    db: DbSession,
    who: CurrentActor,
) -> schemas.OrgPublic:
    check_if_match(request, _etag(access.org))
    before = {"name": access.org.name}
    if body.name is not None:
        await service.rename(db, org=access.org, name=body.name)
    await audit.record(
        db,
        actor=who,
        action="org.update",
        org_id=access.org.id,
        target_type="org",
        target_id=access.org.id,
        before=before,
        after={"name": access.org.name},
    )
    response.headers["etag"] = _etag(access.org)
    return _public(access.org, access.role)


@router.delete("/orgs/{org_id}", status_code=204, operation_id="orgs_delete")
async def delete_org(
    access: OrgDeleter, db: DbSession, runtime: RuntimeDep, who: CurrentActor
) -> Response:
    """Delete the organisation with its sites, keys and invitations (owners only)."""
    org_id = access.org.id
    await service.delete(db, org=access.org)
    await audit.record(
        db, actor=who, action="org.delete", org_id=org_id, target_type="org", target_id=org_id
    )
    # Its sites are gone: every process forgets its cached sites (rare, and cheap to refill).
    after_commit(db, lambda: runtime.invalidate_site(None))
    return Response(status_code=204)


@router.post("/orgs/{org_id}/leave", status_code=204, operation_id="orgs_leave")
async def leave_org(
    access: CurrentOrg, user: CurrentUser, db: DbSession, who: CurrentActor
) -> Response:
    await service.leave(db, org=access.org, user=user)
    await audit.record(
        db,
        actor=who,
        action="member.leave",
        org_id=access.org.id,
        target_type="user",
        target_id=user.id,
    )
    return Response(status_code=204)


@router.post("/orgs/{org_id}/transfer", operation_id="orgs_transfer")
async def transfer_org(
    body: schemas.OwnershipTransfer,
    access: OrgTransferer,
    user: CurrentUser,
    db: DbSession,
    who: CurrentActor,
) -> schemas.OrgPublic:
    """Make another member the owner; the caller becomes an admin."""
    await service.transfer(db, org=access.org, from_user=user, to_user_id=body.user_id)
    await audit.record(
        db,
        actor=who,
        action="org.transfer",
        org_id=access.org.id,
        target_type="user",
        target_id=body.user_id,
        before={"owner": str(user.id)},
        after={"owner": str(body.user_id)},
    )
    return _public(access.org, "admin")


# ---------------------------------------------------------------------------- members


@members.get("/orgs/{org_id}/members", operation_id="members_list")
async def list_members(access: MemberReader, db: DbSession) -> schemas.MembersPublic:
    return schemas.MembersPublic(data=await service.get_members(db, org=access.org))


def _role(access: OrgAccess) -> str:
    # API keys with members:write act as admins.
    return access.role or "admin"


@members.patch("/orgs/{org_id}/members/{user_id}", operation_id="members_update")
async def update_member(
    user_id: uuid.UUID,
    body: schemas.MemberUpdate,
    access: MemberWriter,
    db: DbSession,
    who: CurrentActor,
) -> schemas.MembersPublic:
    member = await service.get_member(db, org=access.org, user_id=user_id)
    before = {"role": member.role}
    await service.change_role(
        db, org=access.org, actor_role=_role(access), user_id=user_id, role=body.role
    )
    await audit.record(
        db,
        actor=who,
        action="member.update",
        org_id=access.org.id,
        target_type="user",
        target_id=user_id,
        before=before,
        after={"role": body.role},
    )
    return schemas.MembersPublic(data=await service.get_members(db, org=access.org))


@members.delete("/orgs/{org_id}/members/{user_id}", status_code=204, operation_id="members_delete")
async def remove_member(
    user_id: uuid.UUID, access: MemberWriter, db: DbSession, who: CurrentActor
) -> Response:
    await service.remove(db, org=access.org, actor_role=_role(access), user_id=user_id)
    await audit.record(
        db,
        actor=who,
        action="member.remove",
        org_id=access.org.id,
        target_type="user",
        target_id=user_id,
    )
    return Response(status_code=204)


# ---------------------------------------------------------------------------- invitations


@invitations.post("/orgs/{org_id}/invitations", status_code=201, operation_id="invitations_create")
async def invite(
    body: schemas.InvitationCreate,
    access: MemberWriter,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.InvitationPublic:
    """Mail an invitation link (single use, expiring) to the address. Refused with 403
    ``plan-member-limit`` when members and open invitations fill the org's plan."""
    await plans.check_member_limit(db, runtime.settings.plans, access.org.id)
    invitation = await service.invite(
        db,
        org=access.org,
        actor=access.principal.user,
        actor_role=_role(access),
        data=body,
        settings=runtime.settings,
        jobs=runtime.jobs,
    )
    await audit.record(
        db,
        actor=who,
        action="invitation.create",
        org_id=access.org.id,
        target_type="invitation",
        target_id=invitation.id,
        after={"email": body.email, "role": body.role},
    )
    return schemas.InvitationPublic.model_validate(invitation)


@invitations.get("/orgs/{org_id}/invitations", operation_id="invitations_list")
async def list_invitations(access: MemberReader, db: DbSession) -> schemas.InvitationsPublic:
    rows = await service.get_invitations(db, org=access.org)
    return schemas.InvitationsPublic(
        data=[schemas.InvitationPublic.model_validate(r) for r in rows]
    )


@invitations.delete(
    "/orgs/{org_id}/invitations/{invitation_id}", status_code=204, operation_id="invitations_delete"
)
async def revoke_invitation(
    invitation_id: uuid.UUID, access: MemberWriter, db: DbSession, who: CurrentActor
) -> Response:
    await service.revoke_invitation(db, org=access.org, invitation_id=invitation_id)
    await audit.record(
        db,
        actor=who,
        action="invitation.revoke",
        org_id=access.org.id,
        target_type="invitation",
        target_id=invitation_id,
    )
    return Response(status_code=204)


@invitations.post("/invitations/accept", operation_id="invitations_accept")
async def accept_invitation(
    body: schemas.InvitationAccept, user: CurrentUser, db: DbSession, who: CurrentActor
) -> schemas.OrgPublic:
    """Join the organisation of an invitation link, signed in as the invited address."""
    org, member = await service.accept(db, token=body.token, user=user)
    await audit.record(
        db,
        actor=who,
        action="invitation.accept",
        org_id=org.id,
        target_type="user",
        target_id=user.id,
        after={"role": member.role},
    )
    return _public(org, member.role)


@me.delete("/me", status_code=204, operation_id="me_delete")
async def delete_me(
    body: account_schemas.AccountDelete,
    user: CurrentUser,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> Response:
    """Deletes the account. Organisations where it is the only member go with it; being the
    only owner of an organisation with other members refuses (409 last-owner)."""
    accounts.require_password(user, body.current_password)
    user_id = user.id
    deleted = await service.delete_account(db, user=user)
    for org_id in deleted:
        await audit.record(
            db, actor=who, action="org.delete", org_id=org_id, target_type="org", target_id=org_id
        )
    await audit.record(
        db, actor=who, action="account.delete", target_type="user", target_id=user_id
    )
    await auth.end_all(db, user_id=user_id, store=runtime.store, settings=runtime.settings.platform)
    return Response(status_code=204)
