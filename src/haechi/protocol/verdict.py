"""The result of checking a response token at /siteverify, before any vendor dialect renders it.

Checks run in a fixed order — format, signature, expiry, site, replay — and stop at the first
failure, whose reason is recorded here. Each dialect (Haechi's own, reCAPTCHA, hCaptcha,
Turnstile) maps a reason to its own error code; see ``haechi.protocol.dialects``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Failure(enum.StrEnum):
    MISSING_SECRET = "missing-secret"
    INVALID_SECRET = "invalid-secret"
    MISSING_RESPONSE = "missing-response"
    # Not a token at all (wrong shape, bad base64, unknown key id, too long).
    MALFORMED_RESPONSE = "malformed-response"
    # Shaped like a token but the authentication tag does not verify (tampered or forged).
    BAD_SIGNATURE = "bad-signature"
    EXPIRED = "expired"
    # The token was issued for another site than the secret belongs to.
    SITE_MISMATCH = "site-mismatch"
    # The optional ``sitekey`` parameter names another site than the secret.
    SITEKEY_MISMATCH = "sitekey-mismatch"
    # Already verified once (and not a repeat with the same idempotency key).
    DUPLICATE = "duplicate"
    INVALID_REMOTEIP = "invalid-remoteip"
    BAD_REQUEST = "bad-request"
    # A test secret that always fails.
    TEST_FAIL = "test-fail"
    # A dependency failed (store down): fail closed.
    INTERNAL = "internal"
    # The calling IP exceeded its siteverify budget; retry after the Retry-After header.
    RATE_LIMITED = "rate-limited"


@dataclass(slots=True)
class Verdict:
    success: bool
    failure: Failure | None = None
    # Set when the token opened (even if a later check failed).
    challenge_ts: float | None = None  # unix seconds, when the challenge was solved
    hostname: str | None = None
    action: str | None = None
    cdata: str | None = None
    # Haechi risk 0-100 (0 = surely human); dialects convert to their own convention.
    risk: int | None = None
    sitekey: str | None = None
    # Ids useful to the site (Turnstile's metadata.ephemeral_id analogue); never secret.
    token_id: str | None = None
    # The vendor widget API the token came from (``recaptcha-v2``), when a compat script named one.
    api: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def fail(cls, failure: Failure, **kwargs: object) -> Verdict:
        return cls(success=False, failure=failure, **kwargs)  # type: ignore[arg-type]
