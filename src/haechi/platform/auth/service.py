"""Sessions: sign-in, refresh-token rotation with family revocation, sign-out.

A session row is one refresh-token family. ``refresh`` spends the presented token and issues
the next one. A spent token presented again within ``refresh_grace_seconds`` of being spent
(two tabs refreshing at once) gets an access token but no new refresh token; later, it means
the token was stolen: the whole session is revoked and denied in the store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.crypto import Keyring
from haechi.core.db import utcnow
from haechi.core.errors import NotFound, RateLimited, Unauthorized
from haechi.core.net import ip_bucket
from haechi.core.settings import PlatformSettings
from haechi.core.store import Store
from haechi.platform.accounts import service as accounts
from haechi.platform.accounts.models import User
from haechi.platform.auth import tokens, totp
from haechi.platform.auth.models import AuthSession, RefreshToken

# How recent a sign-in counts as a fresh re-authentication (``require_reauth``).
REAUTH_SECONDS = 300


@dataclass
class Issued:
    session: AuthSession
    access_token: str
    # None when a racing tab's refresh fell inside the grace period.
    refresh_token: str | None
    # A spent token came back after the grace period: the session is revoked, nothing issued.
    reused: bool = False


def _access(
    keyring: Keyring,
    settings: PlatformSettings,
    user_id: uuid.UUID,
    sid: uuid.UUID,
    epoch: str | None = None,
) -> str:
    return tokens.issue_access(
        keyring,
        user_id=user_id,
        session_id=sid,
        ttl_seconds=settings.access_token_seconds,
        epoch=epoch,
    )


async def start(
    db: AsyncSession,
    *,
    user: User,
    keyring: Keyring,
    settings: PlatformSettings,
    ip: str,
    user_agent: str,
    store: Store | None = None,
) -> Issued:
    """A new session; with ``store``, its access token carries the store's epoch."""
    now = utcnow()
    session = AuthSession(
        user_id=user.id,
        ip=ip[:45],
        user_agent=user_agent[:255],
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_days),
    )
    db.add(session)
    await db.flush()
    refresh = tokens.new_refresh_token()
    db.add(RefreshToken(session_id=session.id, digest=tokens.digest(refresh), created_at=now))
    await db.flush()
    epoch = await tokens.current_epoch(store) if store is not None else None
    return Issued(session, _access(keyring, settings, user.id, session.id, epoch), refresh)


async def login(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    store: Store,
    keyring: Keyring,
    settings: PlatformSettings,
    ip: str,
    user_agent: str,
    otp: str | None = None,
) -> Issued:
    """Sign in with a password (and, when two-factor sign-in is on, ``otp``: a TOTP or a
    recovery code). Unknown address and wrong password answer alike, after the
    same Argon2 work; each failure counts against the address's and the IP's budget."""
    window = float(settings.login_window_seconds)
    account_key = f"platform:login-account:{tokens.digest(email)}"
    ip_key = f"platform:login-ip:{ip_bucket(ip)}"  # IPv6 by its /64: one subscriber, one budget
    # The attempt is counted before the password is checked and given back unless it fails:
    # guesses sent at once cannot all pass the check before any of them is counted.
    await store.incr_many({account_key: 1, ip_key: 1}, ttl_seconds=window)
    give_back = {account_key: -1, ip_key: -1}
    for key, limit in ((account_key, settings.login_per_account), (ip_key, settings.login_per_ip)):
        if await store.get_counter(key) > limit:
            await store.incr_many(give_back, ttl_seconds=window)
            raise RateLimited(
                "too many failed sign-ins; wait before trying again", retry_after=window
            )
    user = await accounts.authenticate(db, email=email, password=password)
    if user is None:
        raise Unauthorized("wrong e-mail address or password", code="bad-credentials")
    try:
        await totp.second_factor(user, keyring, store, otp)
    except Unauthorized as error:
        if error.code != "bad-otp":  # guessing codes spends the same budget as passwords
            await store.incr_many(give_back, ttl_seconds=window)
        raise
    await store.incr_many(give_back, ttl_seconds=window)
    return await start(
        db,
        user=user,
        keyring=keyring,
        settings=settings,
        ip=ip,
        user_agent=user_agent,
        store=store,
    )


async def refresh(
    db: AsyncSession,
    *,
    token: str,
    store: Store,
    keyring: Keyring,
    settings: PlatformSettings,
    ip: str,
) -> Issued:
    now = utcnow()
    row = await db.scalar(
        sa.select(RefreshToken).where(RefreshToken.digest == tokens.digest(token)).with_for_update()
    )
    session = await db.get(AuthSession, row.session_id) if row is not None else None
    if row is None or session is None:
        raise Unauthorized("sign in again", code="invalid-refresh-token")
    if session.revoked_at is not None or session.expires_at <= now:
        raise Unauthorized("this session has ended; sign in again", code="session-ended")
    if row.used_at is not None:
        if (now - row.used_at).total_seconds() <= settings.refresh_grace_seconds:
            epoch = await tokens.current_epoch(store)
            access = _access(keyring, settings, session.user_id, session.id, epoch)
            return Issued(session, access, None)
        # Stolen, or replayed: end the family. The caller must commit this and then refuse
        # (an exception here would roll the revocation back).
        await revoke(db, session=session, store=store, settings=settings)
        return Issued(session, "", None, reused=True)
    row.used_at = now
    session.last_seen_at = now
    session.ip = ip[:45]
    new = tokens.new_refresh_token()
    db.add(RefreshToken(session_id=session.id, digest=tokens.digest(new), created_at=now))
    await db.flush()
    epoch = await tokens.current_epoch(store)
    return Issued(session, _access(keyring, settings, session.user_id, session.id, epoch), new)


async def revoke(
    db: AsyncSession, *, session: AuthSession, store: Store, settings: PlatformSettings
) -> None:
    session.revoked_at = session.revoked_at or utcnow()
    await db.flush()
    await tokens.deny_session(store, session.id, settings.access_token_seconds + 60)


async def get_all(db: AsyncSession, *, user: User) -> Sequence[AuthSession]:
    query = (
        sa.select(AuthSession)
        .where(
            AuthSession.user_id == user.id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > utcnow(),
        )
        .order_by(AuthSession.last_seen_at.desc())
    )
    return (await db.scalars(query)).all()


async def get(db: AsyncSession, *, user: User, session_id: uuid.UUID) -> AuthSession:
    session = await db.get(AuthSession, session_id)
    if session is None or session.user_id != user.id or session.revoked_at is not None:
        raise NotFound("no such session")
    return session


async def end_others(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    keep: uuid.UUID | None,
    store: Store,
    settings: PlatformSettings,
) -> int:
    """Every session of ``user_id`` but ``keep`` revoked (with its refresh-token family), and
    each one's access tokens denied in the store at once (a password change)."""
    now = utcnow()
    query = sa.select(AuthSession.id).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    ended = list((await db.scalars(query)).all())
    if ended:
        await db.execute(
            sa.update(AuthSession).where(AuthSession.id.in_(ended)).values(revoked_at=now)
        )
    for session_id in ended:
        await tokens.deny_session(store, session_id, settings.access_token_seconds + 60)
    return len(ended)


async def require_reauth(
    db: AsyncSession,
    *,
    user: User,
    session_id: uuid.UUID | None,
    password: str | None,
    settings: PlatformSettings,
) -> None:
    """Proof that the account's owner is at the keyboard, for changes that lock others out
    (turning two-factor sign-in on): the current password, or a session that signed in (with
    every factor the account had) within ``REAUTH_SECONDS``. A stolen access token of an older
    session is not enough."""
    if password is not None:
        accounts.require_password(user, password)
        return
    session = await db.get(AuthSession, session_id) if session_id is not None else None
    if session is None or (utcnow() - session.created_at).total_seconds() > REAUTH_SECONDS:
        raise Unauthorized(
            "confirm with your current password (or sign in again)", code="reauth-required"
        )


async def end_all(
    db: AsyncSession, *, user_id: uuid.UUID, store: Store, settings: PlatformSettings
) -> int:
    """Sign out everywhere: every session revoked, every access token issued so far denied."""
    now = utcnow()
    result = await db.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await tokens.deny_user(store, user_id, settings.access_token_seconds + 60, now=time.time())
    return int(getattr(result, "rowcount", 0) or 0)
