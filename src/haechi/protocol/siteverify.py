"""Server-side verification of a response token, in the order format → signature → expiry →
site → replay. Returns a ``Verdict``; the dialects render it in each vendor's shape.

A token verifies once. The spend stores the caller's ``idempotency_key`` under the token's id, so
a retry of the same verification (same key, within the TTL) gets the first answer again while any
other repeat fails as a duplicate. The answer itself is not stored: a retry presents the same
token, which opens to the same fields, so the spend keeps a few bytes per token instead of the
whole verdict (fresh memory for every verified token cost more than the rest of the spend).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from haechi.core.crypto import SealError, constant_time_equal, secret_digest
from haechi.core.store.base import StaleEpoch, StoreUnavailable
from haechi.protocol.dialects import VerifyRequest, test_key_verdict
from haechi.protocol.service import MAX_TOKEN_CHARS, TOKEN_PURPOSE, ProtocolService
from haechi.protocol.usage import usage_key
from haechi.protocol.verdict import Failure, Verdict

log = logging.getLogger("haechi.siteverify")
MAX_IDEMPOTENCY_KEY = 128
_SECRET_RE = re.compile(r"[A-Za-z0-9_\-]{16,128}")
# Spends a key for a TTL with a value under an epoch as ``Store.spend`` does (and returns the
# caller's request rate, unused here): the edge counts the caller's rate limit in the same round
# trip.
TokenSpender = Callable[
    [str, float, bytes, str | None], Awaitable[tuple[bytes | None, float | None]]
]


async def verify(
    service: ProtocolService,
    request: VerifyRequest,
    *,
    strict_remoteip: bool = False,
    now: float | None = None,
    spend: TokenSpender | None = None,
) -> Verdict:
    """Check ``request``. ``strict_remoteip`` rejects a ``remoteip`` that is not an IP address
    (Haechi's own dialect; hCaptcha allows blinded values, the others ignore it). ``spend``, when
    given, replaces the store's spend of the token; what it raises propagates."""
    now = service.clock() if now is None else now
    if not request.secret:
        return Verdict.fail(Failure.MISSING_SECRET)
    test = test_key_verdict(request.secret, now=now)
    if test is not None:
        return test
    if not request.response:
        return Verdict.fail(Failure.MISSING_RESPONSE)
    if request.idempotency_key is not None and len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        return Verdict.fail(Failure.BAD_REQUEST)
    if request.remoteip and strict_remoteip:
        try:
            ipaddress.ip_address(request.remoteip)
        except ValueError:
            return Verdict.fail(Failure.INVALID_REMOTEIP)

    if not _SECRET_RE.fullmatch(request.secret):
        return Verdict.fail(Failure.INVALID_SECRET)  # not worth a lookup
    digest = secret_digest(service.pepper, request.secret)
    try:
        site = await service.sites.get_by_secret_digest(digest)
    except Exception:
        log.exception("secret lookup failed")
        return Verdict.fail(Failure.INTERNAL)
    # A suspended organisation's site fails closed like a wrong secret (each dialect has a
    # fixed list of codes; docs/platform.md).
    if site is None or not site.active or site.suspended or not site.secret_matches(digest, now):
        return Verdict.fail(Failure.INVALID_SECRET)
    if request.sitekey is not None and not constant_time_equal(request.sitekey, site.sitekey):
        return Verdict.fail(Failure.SITEKEY_MISMATCH)

    # format, signature
    if len(request.response) > MAX_TOKEN_CHARS:
        return Verdict.fail(Failure.MALFORMED_RESPONSE)
    try:
        data: dict[str, Any] = orjson.loads(service.keyring.open(TOKEN_PURPOSE, request.response))
    except SealError as error:
        kind = Failure.BAD_SIGNATURE if error.kind == "bad-tag" else Failure.MALFORMED_RESPONSE
        return Verdict.fail(kind)
    opened: dict[str, Any] = {
        "challenge_ts": float(data["ts"]),
        "hostname": data["h"],
        "action": data["a"],
        "cdata": data["cd"],
        "sitekey": data["sk"],
        "token_id": data["id"],
        "api": data.get("ap"),  # absent unless a compat script named its API
    }
    # site: before expiry, so one tenant's secret learns nothing about another's tokens
    if not constant_time_equal(data["sk"], site.sitekey):
        return Verdict.fail(Failure.SITE_MISMATCH)
    key = f"tk:{data['id']}"
    if request.idempotency_key is not None:
        # An idempotent repeat gets the first answer for the whole TTL, even past expiry.
        try:
            stored = await service.store.get(key)
        except StoreUnavailable:
            log.exception("store unavailable at siteverify")
            return Verdict.fail(Failure.INTERNAL)
        if stored is not None:
            return _repeat(stored, request.idempotency_key, data, opened)
    # expiry
    if now >= data["exp"]:
        service.counters.add(usage_key(site.sitekey, "x.expired", now))
        return Verdict.fail(Failure.EXPIRED, **opened)
    # replay
    record = _NO_KEY if request.idempotency_key is None else b"=" + request.idempotency_key.encode()
    ttl = max(1.0, data["exp"] - now) + service.settings.protocol.idempotency_ttl_seconds
    # Tokens of releases before epochs carry none and are checked without.
    epoch = data.get("ep")
    try:
        if spend is None:
            first = await service.store.spend(key, ttl, record, epoch)
        else:
            first, _ = await spend(key, ttl, record, epoch)
    except StaleEpoch:
        # Issued before the store lost its state: whether it was verified then is unknown.
        return Verdict.fail(Failure.EXPIRED, **opened)
    except StoreUnavailable:
        log.exception("store unavailable at siteverify")
        return Verdict.fail(Failure.INTERNAL)
    if first is None:
        service.counters.add(usage_key(site.sitekey, "verifies", now))
        service.counters.add(usage_key(site.sitekey, "v." + (opened["api"] or "native"), now))
        return Verdict(success=True, risk=int(data["r"]), **opened)
    verdict = _repeat(first, request.idempotency_key, data, opened)
    if not verdict.success:
        service.counters.add(usage_key(site.sitekey, "x.duplicate", now))
    return verdict


# What a spent token's key holds: ``-`` when it was verified without an idempotency key, else
# ``=`` and the key. Only a successful verification spends a token, so the first answer is the
# success the token itself describes.
_NO_KEY = b"-"


def _first_key(stored: bytes) -> bytes | None:
    """The idempotency key the token was first verified with (None: without one)."""
    if stored[:1] == b"=":
        return stored[1:]
    if stored[:1] == b"{":
        # The JSON record (``{"k": key, "v": verdict}``) an earlier release wrote, still within its
        # TTL during a rolling upgrade.
        try:
            key = orjson.loads(stored).get("k")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return key.encode() if isinstance(key, str) else None
    return None


def _repeat(
    stored: bytes, idempotency_key: str | None, data: dict[str, Any], opened: dict[str, Any]
) -> Verdict:
    """The first answer again for the same idempotency key; a duplicate for anyone else."""
    first_key = _first_key(stored)
    if (
        idempotency_key is not None
        and first_key is not None
        and constant_time_equal(first_key, idempotency_key.encode())
    ):
        return Verdict(success=True, risk=int(data["r"]), **opened)
    return Verdict.fail(Failure.DUPLICATE, **opened)
