"""Access tokens (short-lived HS256 JWTs) and the store-backed denylist every replica reads.

An access token names its user (``sub``) and sign-in session (``sid``) and is signed with a MAC
subkey of the keyring (``kid`` header), so every replica can check it without the database.
Revocation cannot wait for expiry: ending a session writes ``revoked-session:<sid>`` and "sign
out everywhere" writes ``revoked-user:<uid>`` = the time, both in the shared store for the access
tokens' lifetime; each authenticated request reads both keys, one store round trip.

A store that loses its state loses the denylist with it, so an access token also carries the
store's epoch (``ep``, docs/decisions/0008-store-epoch.md) and is refused once the store has
another: after a loss every access token issued before it stops working (the client refreshes;
the refresh token and the session's revocation live in SQL), not only the revoked ones.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from haechi.core.crypto import Keyring
from haechi.core.errors import Unauthorized
from haechi.core.store import Store
from haechi.core.store.base import UNKNOWN_EPOCH

PURPOSE = "platform-access"
ISSUER = "haechi-platform"
REFRESH_PREFIX = "hrt_"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    issued_at: float
    # The store's epoch at issue (None: a token from before epochs, checked without).
    epoch: str | None = None


# ---------------------------------------------------------------------------- store keys


def session_denied_key(session_id: uuid.UUID) -> str:
    return f"platform:revoked-session:{session_id}"


def user_denied_key(user_id: uuid.UUID) -> str:
    return f"platform:revoked-user:{user_id}"


async def deny_session(store: Store, session_id: uuid.UUID, ttl_seconds: float) -> None:
    await store.set(session_denied_key(session_id), b"1", ttl_seconds)


async def deny_user(store: Store, user_id: uuid.UUID, ttl_seconds: float, *, now: float) -> None:
    """Every access token of ``user_id`` issued up to ``now`` stops working."""
    await store.set(user_denied_key(user_id), repr(now).encode(), ttl_seconds)


async def current_epoch(store: Store) -> str:
    """The store's epoch, read from the store when this process has not seen it yet."""
    epoch = store.epoch
    return await store.sync_epoch() if epoch == UNKNOWN_EPOCH else epoch


async def check_not_denied(store: Store, claims: AccessClaims) -> None:
    if claims.epoch is not None and claims.epoch != await current_epoch(store):
        raise Unauthorized(
            "the server's session store was reset since this token was issued; refresh it",
            code="session-ended",
        )
    if await store.get(session_denied_key(claims.session_id)) is not None:
        raise Unauthorized("this session has ended", code="session-ended")
    cutoff = await store.get(user_denied_key(claims.user_id))
    if cutoff is not None and claims.issued_at <= float(cutoff):
        raise Unauthorized("this session has ended", code="session-ended")


# ---------------------------------------------------------------------------- JWTs


def issue_access(
    keyring: Keyring,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    ttl_seconds: int,
    epoch: str | None = None,
) -> str:
    key = keyring.mac_key(PURPOSE)
    assert key is not None
    now = time.time()
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": now,
        "exp": int(now + ttl_seconds),
        "jti": secrets.token_urlsafe(12),
    }
    if epoch is not None:
        claims["ep"] = epoch
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": keyring.active})


def read_access(keyring: Keyring, token: str) -> AccessClaims:
    """The claims of a valid, unexpired token signed by a key in the ring; else Unauthorized."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = keyring.mac_key(PURPOSE, kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidTokenError("unknown key id")
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "iss"]},
        )
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            issued_at=float(claims["iat"]),
            epoch=claims["ep"] if isinstance(claims.get("ep"), str) else None,
        )
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
        raise Unauthorized("the access token is not valid or has expired") from None


# ---------------------------------------------------------------------------- opaque tokens


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """SHA-256 hex: what the database keeps of a refresh token or a mailed link's token.
    (256 random bits need no pepper: nothing can be guessed from the digest.)"""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
