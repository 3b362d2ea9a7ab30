"""Python SDK: verify tokens from a site backend, and a reference solver for scripts and tests.

    from haechi.client import verify
    result = verify(secret=SECRET, response=form["haechi-response"], remoteip=ip,
                    url="https://captcha.example.com")
    if result.success: ...

``averify`` and ``asolve`` are the asyncio variants; both accept an ``httpx.AsyncClient`` to
reuse connections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from haechi.protocol import pow as pow_

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class VerifyResult:
    success: bool
    error_codes: list[str] = field(default_factory=list)
    challenge_ts: str | None = None
    hostname: str | None = None
    score: float | None = None
    action: str | None = None
    cdata: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> VerifyResult:
        return cls(
            success=bool(body.get("success")),
            error_codes=list(body.get("error-codes") or []),
            challenge_ts=body.get("challenge_ts"),
            hostname=body.get("hostname"),
            score=body.get("score"),
            action=body.get("action"),
            cdata=body.get("cdata"),
            raw=body,
        )


def _verify_form(
    secret: str,
    response: str,
    remoteip: str | None,
    sitekey: str | None,
    idempotency_key: str | None,
) -> dict[str, str]:
    form = {"secret": secret, "response": response}
    for name, value in (
        ("remoteip", remoteip),
        ("sitekey", sitekey),
        ("idempotency_key", idempotency_key),
    ):
        if value is not None:
            form[name] = value
    return form


def verify(
    *,
    secret: str,
    response: str,
    url: str,
    remoteip: str | None = None,
    sitekey: str | None = None,
    idempotency_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> VerifyResult:
    """Check a response token with ``POST {url}/siteverify``. Network errors raise httpx errors."""
    form = _verify_form(secret, response, remoteip, sitekey, idempotency_key)
    reply = httpx.post(f"{url.rstrip('/')}/siteverify", data=form, timeout=timeout)
    reply.raise_for_status()
    return VerifyResult.from_json(reply.json())


async def averify(
    *,
    secret: str,
    response: str,
    url: str,
    remoteip: str | None = None,
    sitekey: str | None = None,
    idempotency_key: str | None = None,
    client: httpx.AsyncClient | None = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - httpx's own timeout, per request
) -> VerifyResult:
    form = _verify_form(secret, response, remoteip, sitekey, idempotency_key)
    async with _client(client, timeout) as http:
        reply = await http.post(f"{url.rstrip('/')}/siteverify", data=form)
    reply.raise_for_status()
    return VerifyResult.from_json(reply.json())


class SolveError(Exception):
    """The server refused, or asked for a visual task this solver cannot do."""

    def __init__(self, code: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.body = body or {}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def solve_pow(challenge: dict[str, Any]) -> list[int]:
    params = challenge["pow"]
    if params.get("algorithm") != pow_.ALGORITHM:
        raise SolveError("unsupported-algorithm", challenge)
    prefix: str = params["prefix"]
    challenge_id = prefix.removeprefix(f"{pow_.PREFIX}:").rstrip(":")
    return pow_.solve(pow_.PowParams(challenge_id, int(params["bits"]), int(params["count"])))


def _check(reply: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = reply.json()
    if reply.status_code != 200:
        raise SolveError(body.get("error", {}).get("code", f"http-{reply.status_code}"), body)
    return body


def _client(client: httpx.AsyncClient | None, timeout: float) -> Any:
    if client is not None:
        from contextlib import nullcontext

        return nullcontext(client)
    return httpx.AsyncClient(timeout=timeout)


async def asolve(
    *,
    url: str,
    sitekey: str,
    origin: str | None = None,
    action: str | None = None,
    cdata: str | None = None,
    telemetry: dict[str, Any] | None = None,
    client: httpx.AsyncClient | None = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - httpx's own timeout, per request
) -> str:
    """Fetch a challenge, solve its proof-of-work and return the response token.

    ``origin`` is sent as the ``Origin`` header (a page on one of the site's hostnames); it
    defaults to ``url``'s own origin. Raises SolveError on ``fail`` or on a visual task.
    """
    base = url.rstrip("/")
    headers = {"origin": origin or origin_of(base)}
    request: dict[str, Any] = {"v": 1, "sitekey": sitekey}
    for name, value in (("action", action), ("cdata", cdata), ("telemetry", telemetry)):
        if value is not None:
            request[name] = value
    async with _client(client, timeout) as http:
        challenge = _check(await http.post(f"{base}/v1/challenge", json=request, headers=headers))
        for _ in range(2):
            if challenge.get("task"):
                raise SolveError("visual-task", challenge)
            nonces = solve_pow(challenge)
            body = {"v": 1, "challenge": challenge["challenge"], "solution": {"pow": nonces}}
            if telemetry is not None:
                body["telemetry"] = telemetry
            outcome = _check(await http.post(f"{base}/v1/solve", json=body, headers=headers))
            if outcome["outcome"] == "token":
                token: str = outcome["token"]
                return token
            if outcome["outcome"] != "step_up":
                raise SolveError(outcome.get("code", "fail"), outcome)
            challenge = outcome["challenge"]
    raise SolveError("step-up-loop")


def solve(**kwargs: Any) -> str:
    """Synchronous ``asolve``."""
    import asyncio

    return asyncio.run(asolve(**kwargs))
