"""Passkeys: WebAuthn registration and sign-in through Duo Labs' ``webauthn`` package.

The relying party is the platform's public URL: its host is the RP id (or
``webauthn_rp_id``), its origin the only origin accepted. Registration asks for a discoverable
credential (resident key required) and user verification required, so a passkey sign-in is a
two-factor sign-in on its own (the device, and its PIN or biometric): TOTP is not asked after
it. Attestation is not requested (``none``): we do not restrict authenticator makes.

Each options call stores its challenge in the shared store for ``CHALLENGE_SECONDS``, under the
store's epoch; verifying spends it (single use, and nothing from before a store loss is
accepted). The stored signature counter must grow on each sign-in when the authenticator keeps
one (a cloned authenticator is refused).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from haechi.core.db import utcnow
from haechi.core.errors import Conflict, Invalid, NotFound, Unauthorized
from haechi.core.settings import PlatformSettings
from haechi.core.store import StaleEpoch, Store
from haechi.platform.accounts import service as accounts
from haechi.platform.accounts.models import User
from haechi.platform.auth.credential_models import OidcIdentity, Passkey

CHALLENGE_SECONDS = 300
TIMEOUT_MS = CHALLENGE_SECONDS * 1000
MAX_PASSKEYS = 20


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str


def relying_party(settings: PlatformSettings) -> RelyingParty:
    parts = urlsplit(settings.public_url)
    return RelyingParty(
        id=settings.webauthn_rp_id or (parts.hostname or "localhost"),
        name=settings.webauthn_rp_name,
        origin=f"{parts.scheme}://{parts.netloc}",
    )


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# ---------------------------------------------------------------------------- challenges


def _key(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


async def _remember(store: Store, challenge: bytes, record: dict[str, Any]) -> None:
    record["e"] = await store.sync_epoch()
    await store.set(f"platform:webauthn:{_key(challenge)}", orjson.dumps(record), CHALLENGE_SECONDS)


def _challenge_of(credential: dict[str, Any]) -> bytes:
    try:
        client_data = parse_client_data_json(_b64decode(credential["response"]["clientDataJSON"]))
        return bytes(client_data.challenge)
    except (KeyError, TypeError, ValueError, AttributeError, WebAuthnException):
        raise Invalid("the credential is malformed", code="bad-credential") from None


async def _take(store: Store, challenge: bytes, kind: str) -> dict[str, Any]:
    """The challenge's record, spent: a second use, an expired or unknown challenge, one of the
    other kind or from before a store loss are all refused alike."""
    key = _key(challenge)
    raw = await store.get(f"platform:webauthn:{key}")
    refused = Unauthorized("this passkey request has expired; try again", code="bad-challenge")
    if raw is None:
        raise refused
    record: dict[str, Any] = orjson.loads(raw)
    if record.get("k") != kind:
        raise refused
    try:
        if await store.spend(f"platform:webauthn-used:{key}", CHALLENGE_SECONDS, epoch=record["e"]):
            raise refused
    except StaleEpoch:
        raise refused from None
    await store.delete(f"platform:webauthn:{key}")
    return record


# ---------------------------------------------------------------------------- registration


async def get_all(db: AsyncSession, *, user_id: uuid.UUID) -> Sequence[Passkey]:
    query = sa.select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)
    return (await db.scalars(query)).all()


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in passkey.transports or []:
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(
        id=_b64decode(passkey.credential_id), transports=transports or None
    )


async def registration_options(
    db: AsyncSession, *, store: Store, settings: PlatformSettings, user: User
) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptions`` as JSON (for ``navigator.credentials.create``,
    e.g. through ``PublicKeyCredential.parseCreationOptionsFromJSON``)."""
    rp = relying_party(settings)
    existing = await get_all(db, user_id=user.id)
    if len(existing) >= MAX_PASSKEYS:
        raise Conflict(f"at most {MAX_PASSKEYS} passkeys per account", code="too-many-passkeys")
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user.id.bytes,
        user_name=user.email,
        user_display_name=user.email,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in existing],
    )
    await _remember(store, options.challenge, {"k": "register", "u": str(user.id)})
    document: dict[str, Any] = orjson.loads(options_to_json(options))
    return document


async def register(
    db: AsyncSession,
    *,
    store: Store,
    settings: PlatformSettings,
    user: User,
    credential: dict[str, Any],
    name: str | None,
) -> Passkey:
    challenge = _challenge_of(credential)
    record = await _take(store, challenge, "register")
    if record.get("u") != str(user.id):
        raise Unauthorized("this passkey request has expired; try again", code="bad-challenge")
    rp = relying_party(settings)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as error:
        raise Invalid(f"the passkey was not accepted: {error}", code="bad-credential") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if await db.scalar(sa.select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise Conflict("this passkey is registered already", code="passkey-exists")
    transports = credential.get("response", {}).get("transports")
    now = utcnow()
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        name=(name or "").strip()[:64] or f"Passkey {now:%Y-%m-%d}",
        transports=[str(t)[:16] for t in transports][:8] if isinstance(transports, list) else None,
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
        created_at=now,
    )
    db.add(passkey)
    await db.flush()
    return passkey


async def get(db: AsyncSession, *, user: User, passkey_id: uuid.UUID) -> Passkey:
    passkey = await db.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.id:
        raise NotFound("no such passkey")
    return passkey


async def rename(db: AsyncSession, *, passkey: Passkey, name: str) -> Passkey:
    passkey.name = name.strip()[:64] or passkey.name
    await db.flush()
    return passkey


async def other_methods(
    db: AsyncSession,
    *,
    user: User,
    identity_id: uuid.UUID | None = None,
    passkey_id: uuid.UUID | None = None,
) -> bool:
    """Whether ``user`` can still sign in without that linked identity or passkey."""
    if user.password_hash is not None:
        return True
    identities = await db.scalar(
        sa.select(sa.func.count())
        .select_from(OidcIdentity)
        .where(OidcIdentity.user_id == user.id, OidcIdentity.id != identity_id)
    )
    keys = await db.scalar(
        sa.select(sa.func.count())
        .select_from(Passkey)
        .where(Passkey.user_id == user.id, Passkey.id != passkey_id)
    )
    return bool(identities or keys)


async def delete(db: AsyncSession, *, user: User, passkey: Passkey) -> None:
    if not await other_methods(db, user=user, passkey_id=passkey.id):
        raise Conflict(
            "this is the account's only way to sign in: link Google or set a password first",
            code="last-sign-in-method",
        )
    await db.delete(passkey)
    await db.flush()


# ---------------------------------------------------------------------------- sign-in


async def login_options(
    db: AsyncSession, *, store: Store, settings: PlatformSettings, email: str | None
) -> dict[str, Any]:
    """``PublicKeyCredentialRequestOptions`` as JSON. Without ``email``: any discoverable
    passkey of this site (usernameless). With it: that account's passkeys are allowed (an
    unknown address or one without passkeys gets an empty list, as usernameless)."""
    rp = relying_party(settings)
    allow: list[PublicKeyCredentialDescriptor] = []
    user_id: str | None = None
    if email:
        user = await accounts.get_by_email(db, email=email)
        if user is not None:
            allow = [_descriptor(p) for p in await get_all(db, user_id=user.id)]
            user_id = str(user.id) if allow else None
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    await _remember(store, options.challenge, {"k": "login", "u": user_id})
    document: dict[str, Any] = orjson.loads(options_to_json(options))
    return document


async def authenticate(
    db: AsyncSession, *, store: Store, settings: PlatformSettings, credential: dict[str, Any]
) -> tuple[User, Passkey]:
    challenge = _challenge_of(credential)
    record = await _take(store, challenge, "login")
    refused = Unauthorized("this passkey is not known here", code="bad-passkey")
    raw_id = credential.get("rawId") or credential.get("id")
    if not isinstance(raw_id, str) or len(raw_id) > 255:
        raise refused
    passkey = await db.scalar(
        sa.select(Passkey).where(Passkey.credential_id == raw_id.rstrip("=")).with_for_update()
    )
    if passkey is None or (record.get("u") and record["u"] != str(passkey.user_id)):
        raise refused
    handle = credential.get("response", {}).get("userHandle")
    if handle:  # a discoverable credential names its user: it must be this passkey's
        try:
            matches = _b64decode(str(handle)) == passkey.user_id.bytes
        except ValueError:
            matches = False
        if not matches:
            raise refused
    rp = relying_party(settings)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=_b64decode(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as error:
        raise Unauthorized(f"the passkey was not accepted: {error}", code="bad-passkey") from None
    user = await db.get(User, passkey.user_id)
    if user is None:  # pragma: no cover - passkeys cascade with their user
        raise refused
    passkey.sign_count = verified.new_sign_count
    passkey.backed_up = verified.credential_backed_up
    passkey.last_used_at = utcnow()
    await db.flush()
    return user, passkey


def device_type(passkey: Passkey) -> str:
    """WebAuthn's names: a backed-up (synced) credential is multi-device."""
    return "multiDevice" if passkey.backed_up else "singleDevice"
