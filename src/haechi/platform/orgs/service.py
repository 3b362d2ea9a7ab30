"""Organisations, members, invitations. Every query names the organisation; an org always has
at least one owner (the last owner can neither leave nor be demoted: transfer first)."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow
from haechi.core.errors import Conflict, Forbidden, Invalid, NotFound
from haechi.core.jobs import JobRunner
from haechi.core.settings import Settings
from haechi.platform import roles
from haechi.platform.accounts.models import User
from haechi.platform.email import service as mail
from haechi.platform.orgs.models import Invitation, Membership, Organisation
from haechi.platform.orgs.schemas import InvitationCreate, MemberPublic


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _slug(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "org"
    return f"{base}-{secrets.token_hex(4)}"


async def create(db: AsyncSession, *, name: str, owner: User) -> Organisation:
    org = Organisation(name=name, slug=_slug(name))
    db.add(org)
    await db.flush()
    db.add(Membership(org_id=org.id, user_id=owner.id, role="owner"))
    await db.flush()
    return org


async def get_all_for_user(db: AsyncSession, *, user: User) -> Sequence[tuple[Organisation, str]]:
    query = (
        sa.select(Organisation, Membership.role)
        .join(Membership, Membership.org_id == Organisation.id)
        .where(Membership.user_id == user.id)
        .order_by(Organisation.created_at, Organisation.id)
    )
    return [(org, role) for org, role in (await db.execute(query)).all()]


async def rename(db: AsyncSession, *, org: Organisation, name: str) -> Organisation:
    org.name = name
    org.updated_at = utcnow()
    await db.flush()
    return org


async def delete(db: AsyncSession, *, org: Organisation) -> None:
    await db.delete(org)
    await db.flush()


# ---------------------------------------------------------------------------- members


async def get_members(db: AsyncSession, *, org: Organisation) -> list[MemberPublic]:
    query = (
        sa.select(Membership, User.email)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org.id)
        .order_by(Membership.created_at, Membership.id)
    )
    return [
        MemberPublic(user_id=m.user_id, email=email, role=m.role, created_at=m.created_at)
        for m, email in (await db.execute(query)).all()
    ]


async def get_member(db: AsyncSession, *, org: Organisation, user_id: uuid.UUID) -> Membership:
    member = await db.scalar(
        sa.select(Membership).where(Membership.org_id == org.id, Membership.user_id == user_id)
    )
    if member is None:
        raise NotFound("no such member")
    return member


async def _owners(db: AsyncSession, org_id: uuid.UUID) -> int:
    count = await db.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(Membership.org_id == org_id, Membership.role == "owner")
    )
    return int(count or 0)


async def change_role(
    db: AsyncSession, *, org: Organisation, actor_role: str, user_id: uuid.UUID, role: str
) -> Membership:
    member = await get_member(db, org=org, user_id=user_id)
    if member.role == "owner":
        raise Conflict("an owner's role changes only by transferring ownership", code="owner")
    if not roles.may_assign(actor_role, role) or roles.RANK[member.role] > roles.RANK[actor_role]:
        raise Forbidden("your role cannot give this role", code="insufficient-role")
    member.role = role
    await db.flush()
    return member


async def remove(
    db: AsyncSession, *, org: Organisation, actor_role: str, user_id: uuid.UUID
) -> None:
    member = await get_member(db, org=org, user_id=user_id)
    if member.role == "owner":
        raise Conflict("an owner cannot be removed; transfer ownership first", code="owner")
    if roles.RANK[member.role] > roles.RANK[actor_role]:
        raise Forbidden("your role cannot remove this member", code="insufficient-role")
    await db.delete(member)
    await db.flush()


async def leave(db: AsyncSession, *, org: Organisation, user: User) -> None:
    member = await get_member(db, org=org, user_id=user.id)
    if member.role == "owner" and await _owners(db, org.id) <= 1:
        raise Conflict(
            "the last owner cannot leave; transfer ownership or delete the organisation",
            code="last-owner",
        )
    await db.delete(member)
    await db.flush()


async def transfer(
    db: AsyncSession, *, org: Organisation, from_user: User, to_user_id: uuid.UUID
) -> Membership:
    """Make another member the owner; the previous owner becomes an admin."""
    if to_user_id == from_user.id:
        raise Invalid("you own this organisation already", code="same-user")
    target = await get_member(db, org=org, user_id=to_user_id)
    current = await get_member(db, org=org, user_id=from_user.id)
    target.role = "owner"
    current.role = "admin"
    await db.flush()
    return target


# ---------------------------------------------------------------------------- invitations


def invitation_link(settings: Settings, token: str) -> str:
    return f"{settings.platform.public_url.rstrip('/')}/invitations/accept?token={token}"


async def invite(
    db: AsyncSession,
    *,
    org: Organisation,
    actor: User | None,
    actor_role: str | None,
    data: InvitationCreate,
    settings: Settings,
    jobs: JobRunner | None,
) -> Invitation:
    if actor_role is not None and not roles.may_assign(actor_role, data.role):
        raise Forbidden("your role cannot give this role", code="insufficient-role")
    existing = await db.scalar(
        sa.select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org.id, User.email == data.email)
    )
    if existing is not None:
        raise Conflict("this person is a member already", code="already-member")
    now = utcnow()
    token = secrets.token_urlsafe(32)
    days = settings.platform.invitation_days
    invitation = Invitation(
        org_id=org.id,
        email=data.email,
        role=data.role,
        digest=_digest(token),
        invited_by=actor.id if actor is not None else None,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.add(invitation)
    await db.flush()
    locale = actor.locale if actor is not None else "en"
    await mail.queue(
        db,
        jobs=jobs,
        to=data.email,
        template="invitation",
        locale=locale,
        values={
            "org": org.name,
            "inviter": actor.email if actor is not None else "An administrator",
            "role": data.role,
            "days": str(days),
            "link": invitation_link(settings, token),
        },
    )
    return invitation


async def get_invitations(db: AsyncSession, *, org: Organisation) -> Sequence[Invitation]:
    query = (
        sa.select(Invitation)
        .where(Invitation.org_id == org.id, Invitation.accepted_at.is_(None))
        .order_by(Invitation.created_at.desc())
    )
    return (await db.scalars(query)).all()


async def revoke_invitation(
    db: AsyncSession, *, org: Organisation, invitation_id: uuid.UUID
) -> None:
    invitation = await db.get(Invitation, invitation_id)
    if invitation is None or invitation.org_id != org.id or invitation.accepted_at is not None:
        raise NotFound("no such invitation")
    await db.delete(invitation)
    await db.flush()


async def accept(db: AsyncSession, *, token: str, user: User) -> tuple[Organisation, Membership]:
    """Join by an invitation's link: once, before it expires, as the invited address (which
    must be verified)."""
    now = utcnow()
    invitation = await db.scalar(
        sa.select(Invitation).where(Invitation.digest == _digest(token)).with_for_update()
    )
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
        raise Invalid("this invitation is not valid any more", code="invalid-link")
    if invitation.email != user.email:
        raise Forbidden("this invitation is for another e-mail address", code="wrong-account")
    if user.email_verified_at is None:
        raise Forbidden("verify your e-mail address first", code="email-unverified")
    org = await db.get(Organisation, invitation.org_id)
    if org is None:  # pragma: no cover - cascades
        raise NotFound("no such organisation")
    invitation.accepted_at = now
    member = await db.scalar(
        sa.select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id)
    )
    if member is None:
        member = Membership(org_id=org.id, user_id=user.id, role=invitation.role)
        db.add(member)
    await db.flush()
    return org, member


# ---------------------------------------------------------------------------- account deletion


async def delete_account(db: AsyncSession, *, user: User) -> list[uuid.UUID]:
    """Delete ``user``. Organisations where they are the only member are deleted with them
    (sites included); where they are the only owner but others remain, the deletion is refused
    until ownership is transferred. Returns the ids of the organisations deleted."""
    owned = (
        await db.scalars(
            sa.select(Membership.org_id).where(
                Membership.user_id == user.id, Membership.role == "owner"
            )
        )
    ).all()
    doomed: list[uuid.UUID] = []
    for org_id in owned:
        members = await db.scalar(
            sa.select(sa.func.count()).select_from(Membership).where(Membership.org_id == org_id)
        )
        if int(members or 0) <= 1:
            doomed.append(org_id)
        elif await _owners(db, org_id) <= 1:
            raise Conflict(
                "you are the only owner of an organisation with other members; "
                "transfer its ownership first",
                code="last-owner",
            )
    for org_id in doomed:
        org = await db.get(Organisation, org_id)
        if org is not None:
            await db.delete(org)
    await db.delete(user)
    await db.flush()
    return doomed
