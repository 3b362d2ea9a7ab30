"""Accounts: sign-up, verification, password reset, change of e-mail, deletion.

Mailed links carry a random token; the database keeps its SHA-256 (``email_tokens``), each
usable once before it expires. Services flush, never commit; mails leave after the commit.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow
from haechi.core.errors import Conflict, Invalid, NotFound, Unauthorized
from haechi.core.jobs import JobRunner
from haechi.core.settings import Settings
from haechi.platform.accounts import passwords
from haechi.platform.accounts.models import EmailToken, User
from haechi.platform.accounts.schemas import UserCreate
from haechi.platform.email import service as mail
from haechi.platform.paging import Cursor, keyset, page

# Reset links mailed to one address in an hour, at most: more requests answer the same and
# send nothing (no one can flood an inbox through the form).
RESET_MAILS_PER_HOUR = 5

LINK_PATHS = {
    "verify": "/verify-email",
    "reset": "/reset-password",
    "change-email": "/confirm-email",
}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link(settings: Settings, purpose: str, token: str) -> str:
    return f"{settings.platform.public_url.rstrip('/')}{LINK_PATHS[purpose]}?token={token}"


def check_password(password: str) -> None:
    reason = passwords.problems(password)
    if reason is not None:
        raise Invalid(reason, code="weak-password")


async def get(db: AsyncSession, *, user_id: uuid.UUID) -> User | None:
    return await db.get(User, user_id)


async def get_by_email(db: AsyncSession, *, email: str) -> User | None:
    return await db.scalar(sa.select(User).where(User.email == email.lower()))


async def get_all(
    db: AsyncSession, *, params: Cursor, search: str | None = None
) -> tuple[Sequence[User], str | None]:
    query = sa.select(User)
    if search:
        pattern = "%" + search.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
        query = query.where(User.email.like(pattern))
    rows = (await db.scalars(keyset(query, User, params))).all()
    return page(rows, params)


async def _issue(
    db: AsyncSession,
    *,
    user: User,
    purpose: str,
    lifetime: timedelta,
    new_email: str | None = None,
) -> str:
    now = utcnow()
    # A new link replaces older unused ones of the same purpose.
    await db.execute(
        sa.update(EmailToken)
        .where(
            EmailToken.user_id == user.id,
            EmailToken.purpose == purpose,
            EmailToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    db.add(
        EmailToken(
            user_id=user.id,
            purpose=purpose,
            digest=_digest(token),
            new_email=new_email,
            expires_at=now + lifetime,
            created_at=now,
        )
    )
    await db.flush()
    return token


async def _spend(db: AsyncSession, *, token: str, purpose: str, now: datetime) -> EmailToken:
    """The token's row, marked used; one error for unknown, used and expired alike."""
    row = await db.scalar(
        sa.select(EmailToken)
        .where(EmailToken.digest == _digest(token), EmailToken.purpose == purpose)
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise Invalid("this link is not valid any more; ask for a new one", code="invalid-link")
    row.used_at = now
    await db.flush()
    return row


async def send_verification(
    db: AsyncSession, *, user: User, settings: Settings, jobs: JobRunner | None
) -> None:
    hours = settings.platform.verify_email_hours
    token = await _issue(db, user=user, purpose="verify", lifetime=timedelta(hours=hours))
    await mail.queue(
        db,
        jobs=jobs,
        to=user.email,
        template="verify-email",
        locale=user.locale,
        values={"email": user.email, "hours": str(hours), "link": link(settings, "verify", token)},
    )


async def create(
    db: AsyncSession,
    *,
    data: UserCreate,
    settings: Settings,
    jobs: JobRunner | None,
    verified: bool = False,
) -> User:
    """A new account; unless ``verified`` (an operator vouches), a verification link is
    mailed."""
    check_password(data.password)
    if await get_by_email(db, email=data.email) is not None:
        raise Conflict("an account with this e-mail address exists", code="email-taken")
    user = User(
        email=data.email,
        password_hash=passwords.hash_password(data.password),
        locale=data.locale,
        is_operator=False,
    )
    db.add(user)
    await db.flush()
    if verified:
        user.email_verified_at = utcnow()
    else:
        await send_verification(db, user=user, settings=settings, jobs=jobs)
    return user


async def verify_email(db: AsyncSession, *, token: str) -> User:
    row = await _spend(db, token=token, purpose="verify", now=utcnow())
    user = await db.get(User, row.user_id)
    if user is None:  # pragma: no cover - the token row cascades with the user
        raise NotFound("no such account")
    user.email_verified_at = user.email_verified_at or utcnow()
    await db.flush()
    return user


async def request_reset(
    db: AsyncSession, *, email: str, settings: Settings, jobs: JobRunner | None
) -> None:
    """Mail a reset link when the account exists; the caller answers the same either way."""
    user = await get_by_email(db, email=email)
    if user is None:
        return
    minutes = settings.platform.reset_password_minutes
    token = await _issue(db, user=user, purpose="reset", lifetime=timedelta(minutes=minutes))
    await mail.queue(
        db,
        jobs=jobs,
        to=user.email,
        template="reset-password",
        locale=user.locale,
        values={
            "email": user.email,
            "minutes": str(minutes),
            "link": link(settings, "reset", token),
        },
    )


async def reset_password(db: AsyncSession, *, token: str, password: str) -> User:
    """Set a new password from a reset link. The caller ends the user's sessions."""
    check_password(password)
    row = await _spend(db, token=token, purpose="reset", now=utcnow())
    user = await db.get(User, row.user_id)
    if user is None:  # pragma: no cover
        raise NotFound("no such account")
    user.password_hash = passwords.hash_password(password)
    # Receiving the link proves the address.
    user.email_verified_at = user.email_verified_at or utcnow()
    await db.flush()
    return user


def require_password(user: User, password: str) -> None:
    if not passwords.verify(user.password_hash, password):
        raise Unauthorized("the current password is wrong", code="wrong-password")


async def change_password(db: AsyncSession, *, user: User, current: str, new: str) -> None:
    require_password(user, current)
    check_password(new)
    user.password_hash = passwords.hash_password(new)
    await db.flush()


async def request_email_change(
    db: AsyncSession,
    *,
    user: User,
    new_email: str,
    password: str,
    settings: Settings,
    jobs: JobRunner | None,
) -> None:
    require_password(user, password)
    if await get_by_email(db, email=new_email) is not None:
        raise Conflict("an account with this e-mail address exists", code="email-taken")
    hours = settings.platform.verify_email_hours
    token = await _issue(
        db,
        user=user,
        purpose="change-email",
        lifetime=timedelta(hours=hours),
        new_email=new_email,
    )
    await mail.queue(
        db,
        jobs=jobs,
        to=new_email,
        template="change-email",
        locale=user.locale,
        values={
            "email": new_email,
            "hours": str(hours),
            "link": link(settings, "change-email", token),
        },
    )


async def confirm_email_change(db: AsyncSession, *, token: str) -> User:
    row = await _spend(db, token=token, purpose="change-email", now=utcnow())
    user = await db.get(User, row.user_id)
    if user is None or row.new_email is None:  # pragma: no cover
        raise NotFound("no such account")
    if await get_by_email(db, email=row.new_email) is not None:
        raise Conflict("an account with this e-mail address exists", code="email-taken")
    user.email = row.new_email
    user.email_verified_at = utcnow()
    await db.flush()
    return user


async def authenticate(db: AsyncSession, *, email: str, password: str) -> User | None:
    """The user when the password is right; None otherwise, after the same Argon2 work."""
    user = await get_by_email(db, email=email)
    ok = passwords.verify(user.password_hash if user is not None else None, password)
    if user is None or not ok:
        return None
    if user.password_hash is not None and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        await db.flush()
    return user


async def delete(db: AsyncSession, *, user: User) -> None:
    await db.delete(user)
    await db.flush()


async def set_operator(db: AsyncSession, *, email: str, value: bool) -> User:
    user = await get_by_email(db, email=email)
    if user is None:
        raise NotFound(f"no account has the e-mail address {email}")
    user.is_operator = value
    await db.flush()
    return user
