"""Vendor dialects of ``/siteverify``: request parsing and response rendering.

A site integrated with reCAPTCHA, hCaptcha or Cloudflare Turnstile keeps its server library and
changes only the verify URL and keys. Each dialect therefore accepts the request encodings the
vendor (and the libraries written against it) send, and renders a :class:`Verdict` as the JSON
body and HTTP status that vendor answers with. Haechi's own dialect is Turnstile-shaped (same
fields, same codes, same HTTP statuses) plus ``score`` in the reCAPTCHA convention and a few
documented extensions.

Behaviour, sources and the reasoning behind each mapping are in ``docs/api-dialects.md``; keep the
two in step.

Score conventions (``Verdict.risk`` is 0-100, 0 = surely human):

* Haechi: ``score = (100 - risk) / 100``: 1.0 human ... 0.0 bot, two decimals.
* reCAPTCHA v3: ``score = floor((100 - risk) / 10) / 10``: Google's 0.1 steps, rounded towards
  "bot" so Haechi never reports more confidence in a human than it has.
* hCaptcha Enterprise: ``score = risk / 100``: hCaptcha's score denotes *malicious activity*, so
  higher means riskier (the reverse of reCAPTCHA).
* Turnstile has no score.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal
from urllib.parse import parse_qs

import orjson

from haechi.protocol.verdict import Failure, Verdict

__all__ = [
    "ERROR_CODES",
    "MAX_BODY_BYTES",
    "MAX_FIELD_LENGTH",
    "RECAPTCHA_V2",
    "TEST_KEYS",
    "Dialect",
    "TestKey",
    "VerifyRequest",
    "error_code",
    "haechi_score",
    "hcaptcha_score",
    "http_status",
    "parse_request",
    "recaptcha_score",
    "render",
    "test_key_behaviour",
    "test_key_verdict",
    "test_sitekey_behaviour",
    "test_sitekey_token",
]


class Dialect(enum.StrEnum):
    HAECHI = "haechi"
    RECAPTCHA = "recaptcha"
    HCAPTCHA = "hcaptcha"
    TURNSTILE = "turnstile"


# ------------------------------------------------------------------------------------ requests

MAX_FIELD_LENGTH: Final = 4096
MAX_BODY_BYTES: Final = 64 * 1024
_MAX_FIELDS: Final = 64

_FIELD_NAMES: Final = ("secret", "response", "remoteip", "sitekey", "idempotency_key")

# The parameters each vendor documents. Anything else a client sends is ignored, as the vendors
# do, so a stray parameter can never produce a failure the vendor would not.
_DIALECT_FIELDS: Final[Mapping[Dialect, frozenset[str]]] = {
    Dialect.HAECHI: frozenset(_FIELD_NAMES),
    Dialect.RECAPTCHA: frozenset({"secret", "response", "remoteip"}),
    Dialect.HCAPTCHA: frozenset({"secret", "response", "remoteip", "sitekey"}),
    Dialect.TURNSTILE: frozenset({"secret", "response", "remoteip", "idempotency_key"}),
}

# Dialects that also read parameters from the query string (body wins). Google answers
# ``GET/POST siteverify?secret=...&response=...`` and much reCAPTCHA code relies on it; the
# hCaptcha and Turnstile dialects accept it too so such code keeps working after a URL swap.
# Haechi's own dialect keeps secrets out of URLs (and out of access logs).
QUERY_DIALECTS: Final = frozenset({Dialect.RECAPTCHA, Dialect.HCAPTCHA, Dialect.TURNSTILE})

# Dialects whose vendor does not validate ``remoteip`` (reCAPTCHA ignores it; Turnstile documents
# it as "not strictly validated"). Libraries send ``None``, ``""`` or a whole X-Forwarded-For
# list there, so an unusable value is dropped instead of failing the request.
_LENIENT_REMOTEIP: Final = frozenset({Dialect.RECAPTCHA, Dialect.TURNSTILE})


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """The parameters of one ``/siteverify`` call; an absent or empty parameter is ``None``."""

    secret: str | None = None
    response: str | None = None
    remoteip: str | None = None
    sitekey: str | None = None
    idempotency_key: str | None = None


class _BadRequest(Exception):
    pass


def parse_request(
    dialect: Dialect,
    content_type: str | None,
    body: bytes,
    query: Mapping[str, str],
) -> VerifyRequest | Failure:
    """Read the siteverify parameters the way ``dialect``'s vendor does.

    Accepted bodies, in every dialect: ``application/x-www-form-urlencoded`` (also assumed when
    a body comes without a Content-Type), ``application/json`` (an object whose fields are
    strings or null) and ``multipart/form-data`` (what ``fetch`` sends for a ``FormData``, as in
    Cloudflare's own examples). Anything else, an unreadable body, a field that is not a string,
    or a field over :data:`MAX_FIELD_LENGTH` characters gives :attr:`Failure.BAD_REQUEST`. Never
    raises for client input.
    """
    try:
        wanted = _DIALECT_FIELDS[dialect]
        fields = _read_body(content_type, body, wanted)
        values: dict[str, str | None] = {}
        for name in _FIELD_NAMES:
            value = fields.get(name) if name in wanted else None
            if value is None and name in wanted and dialect in QUERY_DIALECTS:
                raw = query.get(name)
                value = raw if isinstance(raw, str) else None
            if value is not None and len(value) > MAX_FIELD_LENGTH:
                raise _BadRequest
            values[name] = value or None
    except _BadRequest:
        return Failure.BAD_REQUEST
    except Exception:
        return Failure.BAD_REQUEST
    remoteip = values["remoteip"]
    if remoteip is not None and dialect in _LENIENT_REMOTEIP:
        remoteip = _lenient_ip(remoteip)
    return VerifyRequest(
        secret=values["secret"],
        response=values["response"],
        remoteip=remoteip,
        sitekey=values["sitekey"],
        idempotency_key=values["idempotency_key"],
    )


_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters but tab


def _read_body(
    content_type: str | None, body: bytes, wanted: frozenset[str]
) -> dict[str, str | None]:
    if len(body) > MAX_BODY_BYTES:
        raise _BadRequest
    if not body:
        return {}
    raw_type = content_type or ""
    if _CONTROL_RE.search(raw_type):
        raise _BadRequest
    media_type = raw_type.split(";", 1)[0].strip().lower()
    if media_type in ("", "application/x-www-form-urlencoded"):
        return _read_form(body)
    if media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return _read_json(body, wanted)
    if media_type == "multipart/form-data":
        return _read_multipart(raw_type, body)
    raise _BadRequest


def _read_form(body: bytes) -> dict[str, str | None]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadRequest from exc
    if "%" not in text and "+" not in text:
        # Nothing escaped (tokens, secrets and keys are base64url): what parse_qs would give,
        # without its per-field unquoting.
        if text.count("&") >= _MAX_FIELDS:
            raise _BadRequest
        fields: dict[str, str | None] = {}
        for field in text.split("&"):
            if field:
                name, _, value = field.partition("=")
                fields.setdefault(name, value)
        return fields
    try:
        parsed = parse_qs(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError included; too many fields
        raise _BadRequest from exc
    # A repeated parameter: the first occurrence counts.
    return {name: values[0] for name, values in parsed.items() if values}


def _read_json(body: bytes, wanted: frozenset[str]) -> dict[str, str | None]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _BadRequest from exc
    if not isinstance(document, dict):
        raise _BadRequest
    fields: dict[str, str | None] = {}
    for name in wanted:  # parameters the dialect does not take are ignored, whatever their type
        value = document.get(name)
        if value is None:  # absent, or JSON null (Cloudflare's example sends remoteip: null)
            continue
        if not isinstance(value, str):
            raise _BadRequest
        fields[name] = value
    return fields


_BOUNDARY_RE = re.compile(r'boundary=(?:"([^"]{1,70})"|([^\s;,"]{1,70}))', re.IGNORECASE)
_PART_NAME_RE = re.compile(rb'^content-disposition:\s*form-data\s*;.*?\bname="([^"]{1,64})"', re.I)
_MAX_PART_HEADERS = 1024


def _read_multipart(content_type: str, body: bytes) -> dict[str, str | None]:
    """A small, bounded multipart/form-data reader: linear time, no recursion.

    Only simple text fields are read; each part's header block is capped at 1 KiB.
    """
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        raise _BadRequest
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise _BadRequest
    fields: dict[str, str | None] = {}
    for count, chunk in enumerate(chunks[1:-1]):
        if count >= _MAX_FIELDS:
            raise _BadRequest
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise _BadRequest
        head, sep, payload = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep or len(head) > _MAX_PART_HEADERS:
            raise _BadRequest
        name = None
        for line in head.split(b"\r\n"):
            found = _PART_NAME_RE.match(line)
            if found is not None:
                name = found.group(1).decode("latin-1")
        if name is None or name in fields:
            continue
        try:
            fields[name] = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _BadRequest from exc
    return fields


def _lenient_ip(value: str) -> str | None:
    candidate = value.split(",", 1)[0].strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


# ----------------------------------------------------------------------------------- responses

_HAECHI_CODES: Final[Mapping[Failure, str]] = {
    Failure.MISSING_SECRET: "missing-input-secret",
    Failure.INVALID_SECRET: "invalid-input-secret",
    Failure.MISSING_RESPONSE: "missing-input-response",
    Failure.MALFORMED_RESPONSE: "invalid-input-response",
    Failure.BAD_SIGNATURE: "invalid-input-response",
    Failure.EXPIRED: "timeout-or-duplicate",
    Failure.SITE_MISMATCH: "invalid-input-response",
    # Extensions to the Turnstile set, borrowed from hCaptcha: Haechi takes ``sitekey`` and
    # validates ``remoteip``, Turnstile does neither.
    Failure.SITEKEY_MISMATCH: "sitekey-secret-mismatch",
    Failure.DUPLICATE: "timeout-or-duplicate",
    Failure.INVALID_REMOTEIP: "invalid-remoteip",
    Failure.BAD_REQUEST: "bad-request",
    Failure.TEST_FAIL: "invalid-input-response",
    Failure.INTERNAL: "internal-error",
    Failure.RATE_LIMITED: "rate-limited",
}

_RECAPTCHA_CODES: Final[Mapping[Failure, str]] = {
    Failure.MISSING_SECRET: "missing-input-secret",
    Failure.INVALID_SECRET: "invalid-input-secret",
    Failure.MISSING_RESPONSE: "missing-input-response",
    Failure.MALFORMED_RESPONSE: "invalid-input-response",
    Failure.BAD_SIGNATURE: "invalid-input-response",
    Failure.EXPIRED: "timeout-or-duplicate",
    Failure.SITE_MISMATCH: "invalid-input-response",
    # reCAPTCHA takes no sitekey and does not check remoteip; parse_request never hands these to
    # the checks in this dialect, the codes below are the closest documented ones regardless.
    Failure.SITEKEY_MISMATCH: "invalid-input-response",
    Failure.DUPLICATE: "timeout-or-duplicate",
    Failure.INVALID_REMOTEIP: "bad-request",
    Failure.BAD_REQUEST: "bad-request",
    # Google has no always-fail test key; an invalid token is what a failing check looks like.
    Failure.TEST_FAIL: "invalid-input-response",
    # No internal-error in Google's table; bad-request makes libraries report a service-side
    # problem ("unavailable") rather than a visitor who failed or replayed a challenge.
    Failure.INTERNAL: "bad-request",
    Failure.RATE_LIMITED: "bad-request",
}

_HCAPTCHA_CODES: Final[Mapping[Failure, str]] = {
    Failure.MISSING_SECRET: "missing-input-secret",
    Failure.INVALID_SECRET: "invalid-input-secret",
    Failure.MISSING_RESPONSE: "missing-input-response",
    Failure.MALFORMED_RESPONSE: "invalid-input-response",
    Failure.BAD_SIGNATURE: "invalid-input-response",
    Failure.EXPIRED: "expired-input-response",
    # A token of another site is reported like a forged one, so that one tenant's secret cannot
    # tell genuine tokens of other tenants from forgeries.
    Failure.SITE_MISMATCH: "invalid-input-response",
    Failure.SITEKEY_MISMATCH: "sitekey-secret-mismatch",
    Failure.DUPLICATE: "already-seen-response",
    Failure.INVALID_REMOTEIP: "invalid-remoteip",
    Failure.BAD_REQUEST: "bad-request",
    Failure.TEST_FAIL: "invalid-input-response",
    Failure.INTERNAL: "bad-request",
    Failure.RATE_LIMITED: "bad-request",
}

_TURNSTILE_CODES: Final[Mapping[Failure, str]] = {
    Failure.MISSING_SECRET: "missing-input-secret",
    Failure.INVALID_SECRET: "invalid-input-secret",
    Failure.MISSING_RESPONSE: "missing-input-response",
    Failure.MALFORMED_RESPONSE: "invalid-input-response",
    Failure.BAD_SIGNATURE: "invalid-input-response",
    Failure.EXPIRED: "timeout-or-duplicate",
    Failure.SITE_MISMATCH: "invalid-input-response",
    Failure.SITEKEY_MISMATCH: "invalid-input-response",
    Failure.DUPLICATE: "timeout-or-duplicate",
    Failure.INVALID_REMOTEIP: "bad-request",
    Failure.BAD_REQUEST: "bad-request",
    # What Cloudflare's always-fail secret 2x0000000000000000000000000000000AA answers.
    Failure.TEST_FAIL: "invalid-input-response",
    Failure.INTERNAL: "internal-error",
    # internal-error is Turnstile's "retry" code.
    Failure.RATE_LIMITED: "internal-error",
}

ERROR_CODES: Final[Mapping[Dialect, Mapping[Failure, str]]] = {
    Dialect.HAECHI: _HAECHI_CODES,
    Dialect.RECAPTCHA: _RECAPTCHA_CODES,
    Dialect.HCAPTCHA: _HCAPTCHA_CODES,
    Dialect.TURNSTILE: _TURNSTILE_CODES,
}

# Turnstile answers a missing or wrong secret with HTTP 400 and every verdict about the token
# with 200. reCAPTCHA and hCaptcha answer 200 throughout. INTERNAL stays 200 in every dialect so
# that a library which fails open on a non-2xx status still reads ``success: false``.
_REQUEST_FAULTS: Final = frozenset(
    {Failure.MISSING_SECRET, Failure.INVALID_SECRET, Failure.BAD_REQUEST}
)
_STATUS_400: Final[Mapping[Dialect, frozenset[Failure]]] = {
    Dialect.HAECHI: _REQUEST_FAULTS,
    Dialect.TURNSTILE: _REQUEST_FAULTS,
    Dialect.RECAPTCHA: frozenset(),
    Dialect.HCAPTCHA: frozenset(),
}

# challenge_ts digits after the seconds, as each vendor's responses show them:
# reCAPTCHA "2019-01-11T13:57:23Z", hCaptcha "2025-05-27T15:36:44.000000Z",
# Turnstile "2022-02-28T15:14:30.096Z".
_TS_DIGITS: Final[Mapping[Dialect, int]] = {
    Dialect.HAECHI: 3,
    Dialect.RECAPTCHA: 0,
    Dialect.HCAPTCHA: 6,
    Dialect.TURNSTILE: 3,
}


def error_code(dialect: Dialect, failure: Failure) -> str:
    return ERROR_CODES[dialect][failure]


def http_status(dialect: Dialect, failure: Failure | None) -> int:
    if failure is not None and failure in _STATUS_400[dialect]:
        return 400
    return 200


def _clamp_risk(risk: int) -> int:
    return min(100, max(0, int(risk)))


def haechi_score(risk: int) -> float:
    """Haechi's score: 1.0 human ... 0.0 bot, in hundredths."""
    return (100 - _clamp_risk(risk)) / 100


def recaptcha_score(risk: int) -> float:
    """reCAPTCHA v3 score: 1.0 human ... 0.0 bot, in tenths, rounded towards bot."""
    return ((100 - _clamp_risk(risk)) // 10) / 10


def hcaptcha_score(risk: int) -> float:
    """hCaptcha Enterprise score: 0.0 no risk ... 1.0 malicious."""
    return _clamp_risk(risk) / 100


def _timestamp(ts: float | None, digits: int) -> str | None:
    if ts is None or not math.isfinite(ts):
        return None
    return _format_timestamp(ts, digits)


@functools.lru_cache(maxsize=1024)  # tokens carry whole seconds: a few thousand a second share
def _format_timestamp(ts: float, digits: int) -> str | None:
    try:
        moment = datetime.fromtimestamp(ts, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    return text + "Z"


def _is_test(verdict: Verdict) -> bool:
    return verdict.extra.get("test_key") is True


def render(dialect: Dialect, verdict: Verdict) -> tuple[int, dict[str, object]]:
    """The HTTP status and JSON body ``dialect``'s vendor answers for ``verdict``.

    A failure carries only ``success`` and ``error-codes`` (and Turnstile's ``messages``): what
    the token said is not disclosed to a caller it did not verify for.
    """
    if not verdict.success:
        failure = verdict.failure or Failure.INTERNAL
        return http_status(dialect, failure), _failure_body(dialect, verdict, failure)
    return 200, _success_body(dialect, verdict)


def _failure_body(dialect: Dialect, verdict: Verdict, failure: Failure) -> dict[str, object]:
    body: dict[str, object] = {"success": False, "error-codes": [error_code(dialect, failure)]}
    if dialect is Dialect.TURNSTILE:
        body["messages"] = []
        if _is_test(verdict):
            body["metadata"] = {"result_with_testing_key": True}
    elif dialect is Dialect.HAECHI and _is_test(verdict):
        body["metadata"] = {"result_with_testing_key": True}
    return body


def _success_body(dialect: Dialect, verdict: Verdict) -> dict[str, object]:
    body: dict[str, object] = {"success": True}
    challenge_ts = _timestamp(verdict.challenge_ts, _TS_DIGITS[dialect])
    if challenge_ts is not None:
        body["challenge_ts"] = challenge_ts
    if verdict.hostname is not None:
        body["hostname"] = verdict.hostname
    if dialect is Dialect.RECAPTCHA:
        # v3 fields, except for a token of a reCAPTCHA v2 widget: Google never sends them for v2,
        # and v2 libraries (drf-recaptcha) take a score as a sign of a v3 secret. ``action`` only
        # when the widget had one, so a v3 library's action check cannot pass by accident.
        if verdict.api != RECAPTCHA_V2:
            if verdict.risk is not None:
                body["score"] = recaptcha_score(verdict.risk)
            if verdict.action is not None:
                body["action"] = verdict.action
    elif dialect is Dialect.HCAPTCHA:
        body["credit"] = False  # deprecated by hCaptcha, still sent
        if verdict.risk is not None:
            body["score"] = hcaptcha_score(verdict.risk)
            reasons = verdict.extra.get("score_reason")
            body["score_reason"] = (
                [r for r in reasons if isinstance(r, str)] if isinstance(reasons, list) else []
            )
    else:  # TURNSTILE and HAECHI share the Turnstile shape
        body["error-codes"] = []
        metadata: dict[str, object] = {}
        if _is_test(verdict):
            metadata["result_with_testing_key"] = True
        if dialect is Dialect.TURNSTILE:
            # Turnstile always sends action and cdata, empty when the widget set none; its
            # canned test-key answer carries neither.
            if not _is_test(verdict):
                body["action"] = verdict.action or ""
                body["cdata"] = verdict.cdata or ""
            interactive = verdict.extra.get("interactive")
            if isinstance(interactive, bool):
                metadata["interactive"] = interactive
            ephemeral_id = verdict.extra.get("ephemeral_id")
            if isinstance(ephemeral_id, str):
                metadata["ephemeral_id"] = ephemeral_id
        else:
            body["action"] = verdict.action or ""
            body["cdata"] = verdict.cdata or ""
            if verdict.risk is not None:
                body["score"] = haechi_score(verdict.risk)
            if verdict.sitekey is not None:
                body["sitekey"] = verdict.sitekey
            if verdict.token_id is not None:
                metadata["token_id"] = verdict.token_id
        if metadata:
            body["metadata"] = metadata
    return body


# ----------------------------------------------------------------------------------- test keys

Behaviour = Literal["pass", "fail"]


@dataclass(frozen=True, slots=True)
class TestKey:
    """One documented test key. ``failure`` is what a failing *secret* answers."""

    vendor: Dialect
    kind: Literal["secret", "sitekey"]
    behaviour: Behaviour
    hostname: str
    failure: Failure | None = None
    note: str = ""
    # The dummy response a passing test sitekey hands out instead of a token, as its vendor's does.
    token: str | None = None


# What the reCAPTCHA compat script sends for a v2 widget (``api`` of /v1/challenge).
RECAPTCHA_V2: Final = "recaptcha-v2"

_GOOGLE_HOST: Final = "testkey.google.com"
_HCAPTCHA_HOST: Final = "dummy-key-pass"
_TURNSTILE_HOST: Final = "example.com"
_HAECHI_HOST: Final = "localhost"
_TURNSTILE_DUMMY: Final = "XXXX.DUMMY.TOKEN.XXXX"

TEST_KEYS: Final[Mapping[str, TestKey]] = {
    # reCAPTCHA (v2 keys; Google publishes no v3 or failing pair). "All verification requests
    # will pass" and siteverify reports hostname testkey.google.com.
    "6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe": TestKey(
        Dialect.RECAPTCHA, "secret", "pass", _GOOGLE_HOST
    ),
    "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI": TestKey(
        Dialect.RECAPTCHA, "sitekey", "pass", _GOOGLE_HOST
    ),
    # hCaptcha: one secret for every test sitekey; no failing secret exists.
    "0x0000000000000000000000000000000000000000": TestKey(
        Dialect.HCAPTCHA, "secret", "pass", _HCAPTCHA_HOST
    ),
    "10000000-ffff-ffff-ffff-000000000001": TestKey(
        Dialect.HCAPTCHA,
        "sitekey",
        "pass",
        _HCAPTCHA_HOST,
        note="Publisher/Pro",
        token="10000000-aaaa-bbbb-cccc-000000000001",
    ),
    "20000000-ffff-ffff-ffff-000000000002": TestKey(
        Dialect.HCAPTCHA,
        "sitekey",
        "pass",
        _HCAPTCHA_HOST,
        note="Enterprise, safe end user",
        token="20000000-aaaa-bbbb-cccc-000000000002",
    ),
    "30000000-ffff-ffff-ffff-000000000003": TestKey(
        Dialect.HCAPTCHA,
        "sitekey",
        "pass",
        _HCAPTCHA_HOST,
        note="Enterprise, bot detected",
        token="30000000-aaaa-bbbb-cccc-000000000003",
    ),
    # Cloudflare Turnstile. Test sitekeys hand out the dummy token XXXX.DUMMY.TOKEN.XXXX.
    "1x0000000000000000000000000000000AA": TestKey(
        Dialect.TURNSTILE, "secret", "pass", _TURNSTILE_HOST
    ),
    "2x0000000000000000000000000000000AA": TestKey(
        Dialect.TURNSTILE, "secret", "fail", _TURNSTILE_HOST, Failure.TEST_FAIL
    ),
    "3x0000000000000000000000000000000AA": TestKey(
        Dialect.TURNSTILE,
        "secret",
        "fail",
        _TURNSTILE_HOST,
        Failure.DUPLICATE,
        note='"token already spent": timeout-or-duplicate',
    ),
    "1x00000000000000000000AA": TestKey(
        Dialect.TURNSTILE,
        "sitekey",
        "pass",
        _TURNSTILE_HOST,
        note="visible",
        token=_TURNSTILE_DUMMY,
    ),
    "2x00000000000000000000AB": TestKey(
        Dialect.TURNSTILE, "sitekey", "fail", _TURNSTILE_HOST, note="visible"
    ),
    "1x00000000000000000000BB": TestKey(
        Dialect.TURNSTILE,
        "sitekey",
        "pass",
        _TURNSTILE_HOST,
        note="invisible",
        token=_TURNSTILE_DUMMY,
    ),
    "2x00000000000000000000BB": TestKey(
        Dialect.TURNSTILE, "sitekey", "fail", _TURNSTILE_HOST, note="invisible"
    ),
    "3x00000000000000000000FF": TestKey(
        Dialect.TURNSTILE,
        "sitekey",
        "pass",
        _TURNSTILE_HOST,
        note="forces an interactive challenge",
        token=_TURNSTILE_DUMMY,
    ),
    # Haechi's own pairs.
    "hk_test_pass_00000000000000": TestKey(Dialect.HAECHI, "sitekey", "pass", _HAECHI_HOST),
    "hs_test_pass_0000000000000000000000000000000": TestKey(
        Dialect.HAECHI, "secret", "pass", _HAECHI_HOST
    ),
    "hk_test_fail_00000000000000": TestKey(Dialect.HAECHI, "sitekey", "fail", _HAECHI_HOST),
    "hs_test_fail_0000000000000000000000000000000": TestKey(
        Dialect.HAECHI, "secret", "fail", _HAECHI_HOST, Failure.TEST_FAIL
    ),
}


def _lookup(key: str | None, kind: Literal["secret", "sitekey"]) -> TestKey | None:
    if key is None:
        return None
    entry = TEST_KEYS.get(key)
    return entry if entry is not None and entry.kind == kind else None


def test_key_behaviour(secret: str | None) -> Behaviour | None:
    """``"pass"``/``"fail"`` for a documented test *secret*, else ``None``."""
    entry = _lookup(secret, "secret")
    return entry.behaviour if entry is not None else None


def test_sitekey_behaviour(sitekey: str | None) -> Behaviour | None:
    """``"pass"``/``"fail"`` for a documented test *sitekey* (the widget side), else ``None``."""
    entry = _lookup(sitekey, "sitekey")
    return entry.behaviour if entry is not None else None


def test_sitekey_token(sitekey: str) -> str | None:
    """The dummy response a vendor's passing test sitekey hands out (Turnstile's
    ``XXXX.DUMMY.TOKEN.XXXX``, hCaptcha's ``10000000-aaaa-…``), else ``None``."""
    entry = _lookup(sitekey, "sitekey")
    return entry.token if entry is not None and entry.behaviour == "pass" else None


def test_key_verdict(secret: str | None, *, now: float) -> Verdict | None:
    """The verdict a test secret answers, from the secret alone (as the vendors do); ``None``
    when ``secret`` is not a test secret.

    A passing secret reports the vendor's test hostname, ``now`` as the solve time and, for
    Haechi's own pass key, risk 0 (score 1.0). Vendor keys carry no risk, as Google's and
    Cloudflare's test answers carry no score.
    """
    entry = _lookup(secret, "secret")
    if entry is None:
        return None
    extra: dict[str, object] = {"test_key": True}
    if entry.behaviour == "fail":
        return Verdict.fail(entry.failure or Failure.TEST_FAIL, extra=extra)
    return Verdict(
        success=True,
        challenge_ts=now,
        hostname=entry.hostname,
        risk=0 if entry.vendor is Dialect.HAECHI else None,
        extra=extra,
    )


# Keep pytest from collecting the helpers above when a test module imports them by name
# (compiled with mypyc, a function takes no attributes: pytest would then report, not run, it).
for _helper in (test_key_behaviour, test_sitekey_behaviour, test_sitekey_token, test_key_verdict):
    with contextlib.suppress(AttributeError):
        setattr(_helper, "__test__", False)  # noqa: B010
