"""Request bodies of /v1/challenge and /v1/solve: parsed by hand, fast, with exact errors.

The hot path avoids pydantic: these are a handful of fields checked in a few microseconds. The
JSON schemas in ``docs/schemas/`` describe the same rules for clients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from haechi.core.errors import Invalid
from haechi.protocol.dialects import RECAPTCHA_V2

PROTOCOL_VERSION = 1
# Task kinds a visitor may ask for instead of a visual task (accessibility).
ALTERNATIVES = ("audio",)
# Vendor widget APIs a compat script names (docs/api-dialects.md): tokens of a reCAPTCHA v2 widget
# verify in the reCAPTCHA dialect without v3's score and action, as Google's v2 tokens do.
APIS = (RECAPTCHA_V2,)
MAX_ACTION = 32
MAX_CDATA = 255
MAX_SEALED = 8192
_ACTION_RE = re.compile(r"[A-Za-z0-9_\-]{1,32}")
# Turnstile's rule for cData; also keeps a token's size fixed (no escapes in its JSON).
_CDATA_RE = re.compile(r"[A-Za-z0-9_\-]{0,255}")
_SITEKEY_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True, slots=True)
class ChallengeRequest:
    sitekey: str
    action: str | None
    cdata: str | None
    locale: str | None
    telemetry: Any
    # An alternative kind of task the visitor asked for ("audio"), honoured when the plan calls
    # for a visual task and the alternative is available.
    prefer: str | None = None
    # The vendor widget API the page used (one of APIS), sealed into the challenge and the token.
    api: str | None = None


@dataclass(frozen=True, slots=True)
class SolveRequest:
    challenge: str
    pow: Any
    answer: Any
    telemetry: Any


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object", code="bad-request")
    version = body.get("v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION or type(version) is not int:
        raise Invalid(
            f"unsupported protocol version; this server speaks v{PROTOCOL_VERSION}",
            code="unsupported-version",
        )
    return body


def _optional_str(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"'{name}' must be a string", code="bad-request")
    if len(value) > limit:
        raise Invalid(f"'{name}' is longer than {limit} characters", code="bad-request")
    return value


def _telemetry(body: dict[str, Any]) -> Any:
    telemetry = body.get("telemetry")
    if telemetry is not None and not isinstance(telemetry, dict):
        raise Invalid("'telemetry' must be an object (see docs/telemetry.md)", code="bad-request")
    return telemetry


def _prefer(body: dict[str, Any]) -> str | None:
    prefer = body.get("prefer")
    if prefer is not None and prefer not in ALTERNATIVES:
        raise Invalid("'prefer' must be one of: " + ", ".join(ALTERNATIVES), code="bad-request")
    return prefer


def _api(body: dict[str, Any]) -> str | None:
    api = body.get("api")
    if api is not None and api not in APIS:
        raise Invalid("'api' must be one of: " + ", ".join(APIS), code="bad-request")
    return api


def parse_challenge(body: Any) -> ChallengeRequest:
    data = _object(body)
    sitekey = data.get("sitekey")
    if sitekey is None or sitekey == "":
        raise Invalid("'sitekey' is required", code="missing-sitekey")
    if not isinstance(sitekey, str) or not _SITEKEY_RE.fullmatch(sitekey):
        raise Invalid("'sitekey' is not a sitekey", code="invalid-sitekey")
    action = _optional_str(data, "action", MAX_ACTION)
    if action is not None and not _ACTION_RE.fullmatch(action):
        raise Invalid("'action' allows 1-32 of A-Z a-z 0-9 _ -", code="bad-request")
    cdata = _optional_str(data, "cdata", MAX_CDATA)
    if cdata is not None and not _CDATA_RE.fullmatch(cdata):
        raise Invalid("'cdata' allows up to 255 of A-Z a-z 0-9 _ -", code="bad-request")
    return ChallengeRequest(
        sitekey=sitekey,
        action=action,
        cdata=cdata,
        locale=_optional_str(data, "locale", 35),
        telemetry=_telemetry(data),
        prefer=_prefer(data),
        api=_api(data),
    )


def parse_solve(body: Any) -> SolveRequest:
    data = _object(body)
    challenge = data.get("challenge")
    if not challenge:
        raise Invalid("'challenge' is required", code="missing-challenge")
    if not isinstance(challenge, str) or len(challenge) > MAX_SEALED:
        raise Invalid("'challenge' is not a sealed challenge", code="bad-request")
    solution = data.get("solution")
    if solution is None:
        solution = {}
    if not isinstance(solution, dict):
        raise Invalid("'solution' must be an object", code="bad-request")
    return SolveRequest(
        challenge=challenge,
        pow=solution.get("pow", []),
        answer=solution.get("answer"),
        telemetry=_telemetry(data),
    )
