"""Sign in with Google: OpenID Connect, authorization code flow with PKCE (S256), state and nonce.

``begin`` keeps the flow's secrets (the PKCE verifier, the nonce, a digest of a browser-binding
cookie) in a store record named by the state's digest, for ``FLOW_SECONDS``; ``finish`` spends
it once (a replayed callback finds it spent), exchanges the code with the verifier and client
authentication, and checks the ID token: signature by a key of the provider's JWKS, ``iss``,
``aud`` (and ``azp``), ``exp``/``iat``, ``nonce``. The URLs, PKCE values and tokens come from
Authlib; JOSE checks from joserfc (Authlib's JOSE library).

An identity (``iss`` + ``sub``) is linked to an account only through a verified address: the
provider's ``email_verified`` must be true, and an existing account's address must be verified
here too. A new account made from Google starts verified and without a password.

The callback does not sign in by itself: it redirects to the dashboard with a single-use
``ticket`` (``TICKET_SECONDS``) in the URL fragment, which the dashboard trades at
``/auth/google/complete`` (with the TOTP code when two-factor sign-in is on) for the usual
access token and refresh cookie, from a same-site request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson
import sqlalchemy as sa
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow
from haechi.core.errors import Conflict, Invalid, NotFound, Unauthorized
from haechi.core.settings import PlatformSettings
from haechi.core.store import Store
from haechi.platform.accounts import service as accounts
from haechi.platform.accounts.models import User
from haechi.platform.auth import passkeys
from haechi.platform.auth.credential_models import OidcIdentity

FLOW_SECONDS = 600
TICKET_SECONDS = 120
HTTP_TIMEOUT = 10.0
CACHE_SECONDS = 3600.0
# Asymmetric algorithms only: an HS256 token would be "signed" with our own client secret.
ALGORITHMS = ("RS256", "ES256", "PS256")
CALLBACK_PATH = "/api/v1/auth/google/callback"
BINDING_COOKIE = "haechi_oidc"
BINDING_PATH = "/api/v1/auth/google"


class FlowError(Invalid):
    """The callback cannot go on; ``code`` goes back to the dashboard in the fragment."""


@dataclass(frozen=True)
class Claims:
    issuer: str
    subject: str
    email: str
    email_verified: bool
    locale: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def enabled(settings: PlatformSettings) -> bool:
    return bool(settings.google_client_id)


def redirect_url(settings: PlatformSettings) -> str:
    return settings.google_redirect_url or settings.public_url.rstrip("/") + CALLBACK_PATH


def dashboard_url(settings: PlatformSettings, fragment: str) -> str:
    return f"{settings.public_url.rstrip('/')}/signin/google#{fragment}"


# ---------------------------------------------------------------------------- provider documents

# url -> (fetched at, document); per process, refreshed hourly (and the JWKS on an unknown kid).
_cache: dict[str, tuple[float, Any]] = {}


async def _fetch_json(http: httpx.AsyncClient, url: str, *, fresh: bool = False) -> Any:
    hit = _cache.get(url)
    if hit is not None and not fresh and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    try:
        reply = await http.get(url, timeout=HTTP_TIMEOUT)
        reply.raise_for_status()
        document = reply.json()
    except (httpx.HTTPError, ValueError) as error:
        raise FlowError(f"the provider did not answer: {error}", code="provider-error") from None
    _cache[url] = (time.monotonic(), document)
    return document


async def discovery(http: httpx.AsyncClient, settings: PlatformSettings) -> dict[str, Any]:
    document = await _fetch_json(http, settings.google_discovery_url)
    needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    if not isinstance(document, dict) or not all(isinstance(document.get(k), str) for k in needed):
        raise FlowError("the provider's discovery document is incomplete", code="provider-error")
    return document


def clear_cache() -> None:
    _cache.clear()


# ---------------------------------------------------------------------------- the flow


async def begin(
    http: httpx.AsyncClient, store: Store, settings: PlatformSettings
) -> tuple[str, str]:
    """The provider's authorization URL and the browser-binding cookie's value."""
    if not enabled(settings):
        raise NotFound("Google sign-in is not configured here", code="google-disabled")
    provider = await discovery(http, settings)
    state = generate_token(43)
    nonce = generate_token(43)
    verifier = generate_token(64)
    binding = generate_token(43)
    record = {"v": verifier, "n": nonce, "b": _digest(binding)}
    await store.set(f"platform:oidc-flow:{_digest(state)}", orjson.dumps(record), FLOW_SECONDS)
    url = prepare_grant_uri(
        provider["authorization_endpoint"],
        settings.google_client_id,
        "code",
        redirect_uri=redirect_url(settings),
        scope="openid email profile",
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return str(url), binding


async def _take_flow(store: Store, state: str, binding: str | None) -> dict[str, Any]:
    key = _digest(state)
    raw = await store.get(f"platform:oidc-flow:{key}")
    refused = FlowError("this sign-in link is not valid any more; start again", code="bad-state")
    if raw is None:
        raise refused
    record: dict[str, Any] = orjson.loads(raw)
    # The flow belongs to the browser that began it (no one can push their code into ours, or
    # sign a victim in to the attacker's account); checked before the state is spent, so that
    # a stranger holding the URL cannot spoil the rightful browser's sign-in.
    if not binding or not hmac.compare_digest(record["b"], _digest(binding)):
        raise FlowError("this sign-in began in another browser; start again", code="bad-state")
    # Single use: of two callbacks with one state, only the first gets past this.
    if await store.spend(f"platform:oidc-used:{key}", FLOW_SECONDS) is not None:
        raise refused
    await store.delete(f"platform:oidc-flow:{key}")
    return record


async def _exchange(
    http: httpx.AsyncClient,
    provider: dict[str, Any],
    settings: PlatformSettings,
    code: str,
    verifier: str,
) -> str:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_url(settings),
        "code_verifier": verifier,
    }
    methods = provider.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    headers = {"accept": "application/json"}
    if "client_secret_basic" in methods:
        # RFC 6749 2.3.1: each part form-encoded, then Basic.
        pair = (
            f"{quote_plus(settings.google_client_id)}:{quote_plus(settings.google_client_secret)}"
        )
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form |= {
            "client_id": settings.google_client_id,
            "client_secret": settings.google_client_secret,
        }
    try:
        reply = await http.post(
            provider["token_endpoint"],
            data=form,
            headers=headers,
            timeout=HTTP_TIMEOUT,
        )
        body = reply.json()
    except (httpx.HTTPError, ValueError):
        raise FlowError("the provider did not answer", code="provider-error") from None
    if reply.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise FlowError(f"the provider refused the code ({error})", code="code-refused")
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise FlowError("the provider sent no ID token", code="bad-id-token")
    return id_token


async def _verify_id_token(
    http: httpx.AsyncClient,
    provider: dict[str, Any],
    settings: PlatformSettings,
    id_token: str,
    nonce: str,
) -> dict[str, Any]:
    allowed = [a for a in provider.get("id_token_signing_alg_values_supported", ["RS256"])]
    algorithms = [a for a in ALGORITHMS if a in allowed] or ["RS256"]
    for fresh in (False, True):  # an unknown kid: the provider may have rotated its keys
        document = await _fetch_json(http, provider["jwks_uri"], fresh=fresh)
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError, AttributeError):
            raise FlowError("the provider's JWKS is not valid", code="provider-error") from None
        try:
            token = jwt.decode(id_token, keys, algorithms=algorithms)
            break
        except JoseError as error:
            if fresh or error.error != "invalid_key_id":
                raise FlowError(
                    f"the ID token's signature is not valid ({error.error})", code="bad-id-token"
                ) from None
        except (ValueError, TypeError, KeyError):
            raise FlowError("the ID token is malformed", code="bad-id-token") from None
    claims: dict[str, Any] = dict(token.claims)
    issuers = [provider["issuer"]]
    if provider["issuer"] == "https://accounts.google.com":
        issuers.append("accounts.google.com")  # Google signs either form (its docs)
    registry = jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "values": issuers},
        aud={"essential": True, "value": settings.google_client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except (JoseError, ValueError, TypeError) as error:
        raise FlowError(f"the ID token is not for us ({error})", code="bad-id-token") from None
    audience = claims["aud"]
    if (
        isinstance(audience, list)
        and len(audience) > 1
        and (claims.get("azp") != settings.google_client_id)
    ):
        raise FlowError("the ID token was issued to another client", code="bad-id-token")
    return claims


async def finish(
    http: httpx.AsyncClient,
    store: Store,
    settings: PlatformSettings,
    *,
    state: str,
    code: str,
    binding: str | None,
) -> Claims:
    if not enabled(settings):
        raise NotFound("Google sign-in is not configured here", code="google-disabled")
    record = await _take_flow(store, state, binding)
    provider = await discovery(http, settings)
    id_token = await _exchange(http, provider, settings, code, record["v"])
    claims = await _verify_id_token(http, provider, settings, id_token, record["n"])
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        raise FlowError("the provider sent no e-mail address", code="no-email")
    locale = str(claims.get("locale") or "en")[:2].lower()
    return Claims(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"])[:255],
        email=email.strip().lower(),
        # Only a JSON true counts (not "true", not 1).
        email_verified=claims.get("email_verified") is True,
        locale=locale if locale in ("ko", "en") else "en",
    )


@dataclass
class Outcome:
    user: User
    created: bool = False
    linked: bool = False


async def account_for(db: AsyncSession, claims: Claims) -> Outcome:
    """The account this identity signs in to: linked before, linked now through a verified
    address on both sides, or new (verified, no password)."""
    identity = await db.scalar(
        sa.select(OidcIdentity).where(
            OidcIdentity.issuer == claims.issuer, OidcIdentity.subject == claims.subject
        )
    )
    now = utcnow()
    if identity is not None:
        user = await db.get(User, identity.user_id)
        if user is None:  # pragma: no cover - the identity cascades with its user
            raise FlowError("no such account", code="no-account")
        identity.last_used_at = now
        await db.flush()
        return Outcome(user)
    if not claims.email_verified:
        raise FlowError("Google has not verified this e-mail address", code="email-not-verified")
    user = await accounts.get_by_email(db, email=claims.email)
    outcome = Outcome(user, linked=True) if user is not None else None
    if user is None:
        user = User(
            email=claims.email,
            email_verified_at=now,
            password_hash=None,
            locale=claims.locale,
            is_operator=False,
        )
        db.add(user)
        await db.flush()
        outcome = Outcome(user, created=True, linked=True)
    elif not user.email_verified:
        # Someone may have signed up with this address without owning it: no link until the
        # account's own verification mail is followed.
        raise FlowError(
            "verify this account's e-mail address first, then sign in with Google",
            code="account-not-verified",
        )
    assert outcome is not None
    db.add(
        OidcIdentity(
            user_id=user.id,
            issuer=claims.issuer,
            subject=claims.subject,
            email=claims.email,
            created_at=now,
            last_used_at=now,
        )
    )
    await db.flush()
    return outcome


# ---------------------------------------------------------------------------- the ticket


async def issue_ticket(store: Store, user_id: uuid.UUID) -> str:
    ticket = generate_token(43)
    await store.set(
        f"platform:oidc-ticket:{_digest(ticket)}", str(user_id).encode(), TICKET_SECONDS
    )
    return str(ticket)


async def peek_ticket(store: Store, ticket: str) -> uuid.UUID:
    raw = await store.get(f"platform:oidc-ticket:{_digest(ticket)}")
    if raw is None:
        raise Unauthorized("this sign-in has expired; start again", code="invalid-ticket")
    return uuid.UUID(raw.decode())


async def spend_ticket(store: Store, ticket: str) -> None:
    key = _digest(ticket)
    if await store.spend(f"platform:oidc-ticket-used:{key}", TICKET_SECONDS) is not None:
        raise Unauthorized("this sign-in has expired; start again", code="invalid-ticket")
    await store.delete(f"platform:oidc-ticket:{key}")


async def get_all(db: AsyncSession, *, user_id: uuid.UUID) -> Sequence[OidcIdentity]:
    query = (
        sa.select(OidcIdentity)
        .where(OidcIdentity.user_id == user_id)
        .order_by(OidcIdentity.created_at)
    )
    return (await db.scalars(query)).all()


async def unlink(db: AsyncSession, *, user: User, identity_id: uuid.UUID) -> OidcIdentity:
    identity = await db.get(OidcIdentity, identity_id)
    if identity is None or identity.user_id != user.id:
        raise NotFound("no such linked account")
    if not await passkeys.other_methods(db, user=user, identity_id=identity.id):
        raise Conflict(
            "this is the account's only way to sign in: add a passkey or set a password "
            '("forgot password") first',
            code="last-sign-in-method",
        )
    await db.delete(identity)
    await db.flush()
    return identity
