"""TOTP two-factor sign-in (RFC 6238 through pyotp) and single-use recovery codes.

The secret is sealed with the keyring before it is stored. A code is accepted in the current
30-second step or the one before/after, and only once (the step is spent in the shared store).
Ten recovery codes are shown once at enrolment; the database keeps their SHA-256 digests and
each works once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp

from haechi.core.crypto import Keyring
from haechi.core.db import utcnow
from haechi.core.errors import Conflict, Invalid, Unauthorized
from haechi.core.store import Store
from haechi.platform.accounts.models import User

PURPOSE = "platform-totp"
ISSUER = "Haechi"
RECOVERY_CODES = 10


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def _totp(keyring: Keyring, user: User) -> pyotp.TOTP:
    assert user.totp_secret is not None
    return pyotp.TOTP(keyring.open(PURPOSE, user.totp_secret).decode())


def begin(user: User, keyring: Keyring) -> tuple[str, str]:
    """A new (not yet enabled) secret for ``user``: the base32 secret and its otpauth:// URI."""
    if user.totp_enabled_at is not None:
        raise Conflict("two-factor sign-in is on already", code="totp-enabled")
    secret = pyotp.random_base32()
    user.totp_secret = keyring.seal(PURPOSE, secret.encode())
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return secret, uri


async def check(user: User, keyring: Keyring, store: Store, code: str) -> bool:
    """Whether ``code`` is a current TOTP code of ``user``, spending its time step."""
    if user.totp_secret is None or not (code.isascii() and code.isdigit()) or len(code) != 6:
        return False
    totp = _totp(keyring, user)
    now = time.time()
    for offset in (-1, 0, 1):
        at = now + offset * totp.interval
        if hmac.compare_digest(totp.at(at), code):
            step = totp.timecode(at)
            # SQL remembers the last step used (durable); the store spends it atomically
            # between concurrent sign-ins. Either one refusing is a replay.
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            ttl = 3 * totp.interval
            if await store.spend(f"platform:totp-step:{user.id}:{step}", ttl) is not None:
                return False
            user.totp_last_step = step
            return True
    return False


def new_recovery_codes(user: User) -> list[str]:
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    user.recovery_codes = [_digest(c) for c in codes]
    return codes


async def confirm(user: User, keyring: Keyring, store: Store, code: str) -> list[str]:
    """Turn two-factor sign-in on with a first valid code; the recovery codes, shown once."""
    if user.totp_enabled_at is not None:
        raise Conflict("two-factor sign-in is on already", code="totp-enabled")
    if user.totp_secret is None:
        raise Conflict("start the set-up first", code="totp-not-started")
    if not await check(user, keyring, store, code):
        raise Invalid("the code is not valid; check the device's clock", code="bad-otp")
    user.totp_enabled_at = utcnow()
    return new_recovery_codes(user)


def use_recovery_code(user: User, code: str) -> bool:
    digests = list(user.recovery_codes or [])
    wanted = _digest(code)
    for digest in digests:
        if hmac.compare_digest(digest, wanted):
            digests.remove(digest)
            user.recovery_codes = digests
            return True
    return False


async def second_factor(user: User, keyring: Keyring, store: Store, otp: str | None) -> None:
    """At sign-in: nothing to do without two-factor; else a TOTP or a recovery code."""
    if user.totp_enabled_at is None:
        return
    if not otp:
        raise Unauthorized("enter the code from your authenticator app", code="otp-required")
    if await check(user, keyring, store, otp.strip()) or use_recovery_code(user, otp):
        return
    raise Unauthorized("the code is not valid", code="bad-otp")


def disable(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.recovery_codes = None
