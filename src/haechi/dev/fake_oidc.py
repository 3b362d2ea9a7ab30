"""A loopback OpenID provider for tests and the demo (``haechi dev fake-oidc``).

It speaks the protocol a relying party sees at Google: a discovery document, a JWKS with an RSA
key generated at start, an authorization endpoint (the code flow; PKCE with S256 required), a
token endpoint that checks client authentication (``client_secret_basic`` or ``_post``), the
redirect URI, the code's single use and expiry and the PKCE verifier, and RS256-signed ID tokens
with ``nonce``, ``email`` and ``email_verified``.

The authorization endpoint approves at once when the request carries ``login_hint`` (the e-mail
address to sign in as); otherwise it shows a small form asking for the address and whether it
counts as verified. Subjects are stable per address. Tests reach the state through
``app.state.oidc`` (``FakeOidc``) to make an address unverified, override ID-token claims, or
sign with a key the JWKS does not list. State is in memory, per app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

TEST_CLIENT_ID = "haechi-dev-client"
TEST_CLIENT_SECRET = "haechi-dev-secret"
CODE_SECONDS = 60


def _new_key() -> RSAKey:
    return RSAKey.generate_key(
        2048, parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"}
    )


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    email: str
    email_verified: bool
    issued: float
    used: bool = False


@dataclass
class FakeOidc:
    """The provider's state; tests reach it through ``app.state.oidc``."""

    issuer: str
    clients: dict[str, str]  # client id -> secret
    key: RSAKey = field(default_factory=_new_key)
    codes: dict[str, Grant] = field(default_factory=dict)
    # Addresses the provider has not verified (email_verified false in their ID tokens).
    unverified: set[str] = field(default_factory=set)
    # Claims put over every ID token's (e.g. {"nonce": "other"}); test hooks.
    overrides: dict[str, Any] = field(default_factory=dict)
    # Sign ID tokens with a key that is not in the JWKS (same kid).
    rogue_key: RSAKey | None = None
    token_requests: int = 0

    def subject(self, email: str) -> str:
        return hashlib.sha256(f"{self.issuer}|{email}".encode()).hexdigest()[:21]

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject(grant.email),
            "aud": grant.client_id,
            "azp": grant.client_id,
            "iat": now,
            "exp": now + 3600,
            "email": grant.email,
            "email_verified": grant.email_verified,
            "name": grant.email.split("@")[0],
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update(self.overrides)
        key = self.rogue_key or self.key
        header = {"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key)


def _oidc(request: Request) -> FakeOidc:
    state: FakeOidc = request.app.state.oidc
    return state


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def discovery(request: Request) -> Response:
    oidc = _oidc(request)
    base = oidc.issuer
    return JSONResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name", "nonce"],
        }
    )


async def jwks(request: Request) -> Response:
    return JSONResponse({"keys": [_oidc(request).key.as_dict(private=False)]})


FORM = """<!doctype html><meta charset="utf-8"><title>Fake OpenID provider</title>
<h1>Sign in to the fake provider</h1>
<form method="post" action="authorize">{hidden}
<label>E-mail <input name="login_hint" type="email" required></label>
<label><input name="email_verified" type="checkbox" value="1" checked> verified</label>
<button>Continue</button></form>"""


async def authorize(request: Request) -> Response:
    oidc = _oidc(request)
    params = dict(request.query_params)
    if request.method == "POST":
        params |= {k: str(v) for k, v in (await request.form()).items()}
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    if client_id not in oidc.clients or not redirect_uri.startswith(("http://", "https://")):
        return _error(400, "invalid_request", "unknown client or redirect_uri")
    state = params.get("state")

    def back(**values: str) -> Response:
        if state is not None:
            values["state"] = state
        joiner = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + joiner + urlencode(values), status_code=302)

    if params.get("response_type") != "code" or "openid" not in params.get("scope", "").split():
        return back(error="unsupported_response_type")
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
        return back(error="invalid_request", error_description="PKCE with S256 is required")
    email = params.get("login_hint", "").strip().lower()
    if not email:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k not in ("login_hint", "email_verified")
        )
        return HTMLResponse(FORM.format(hidden=hidden))
    if request.method == "POST":
        verified = params.get("email_verified") == "1"
    else:
        verified = email not in oidc.unverified
    code = secrets.token_urlsafe(24)
    oidc.codes[code] = Grant(
        client_id=client_id,
        redirect_uri=redirect_uri,
        challenge=challenge,
        nonce=params.get("nonce"),
        email=email,
        email_verified=verified,
        issued=time.monotonic(),
    )
    return back(code=code)


def _client(request: Request, form: dict[str, str]) -> str | None:
    oidc = _oidc(request)
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except ValueError:
            return None
        client_id, _, secret = decoded.partition(":")
    expected = oidc.clients.get(client_id)
    if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        return None
    return client_id


async def token(request: Request) -> Response:
    oidc = _oidc(request)
    oidc.token_requests += 1
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id = _client(request, form)
    if client_id is None:
        return _error(401, "invalid_client", "client authentication failed")
    if form.get("grant_type") != "authorization_code":
        return _error(400, "unsupported_grant_type", "only authorization_code")
    grant = oidc.codes.get(form.get("code", ""))
    if grant is None or grant.used or time.monotonic() - grant.issued > CODE_SECONDS:
        return _error(400, "invalid_grant", "the code is unknown, used or expired")
    grant.used = True  # spent whatever happens next, as RFC 6749 asks
    if grant.client_id != client_id or grant.redirect_uri != form.get("redirect_uri"):
        return _error(400, "invalid_grant", "the code was issued to another client or redirect")
    verifier = form.get("code_verifier", "")
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(computed, grant.challenge):
        return _error(400, "invalid_grant", "PKCE verification failed")
    return JSONResponse(
        {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
            "id_token": oidc.id_token(grant),
        },
        headers={"cache-control": "no-store"},
    )


def create_app(
    issuer: str,
    client_id: str = TEST_CLIENT_ID,
    client_secret: str = TEST_CLIENT_SECRET,
) -> Starlette:
    app = Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route("/jwks", jwks, methods=["GET"]),
            Route("/authorize", authorize, methods=["GET", "POST"]),
            Route("/token", token, methods=["POST"]),
        ]
    )
    app.state.oidc = FakeOidc(issuer=issuer.rstrip("/"), clients={client_id: client_secret})
    return app
