"""``Idempotency-Key`` on POSTs: a retried request gets the first answer instead of a second
site, key or invitation.

The key is scoped to the credential (the ``Authorization`` header) and the path. The first
request claims it in the shared store; a concurrent duplicate gets 409
``idempotency-in-progress``; once answered (any status below 500) the answer is kept for
``TTL_SECONDS``, sealed with the keyring (answers can hold a secret shown once), and replayed
with ``Idempotent-Replayed: true``. The same key with another body is 422
``idempotency-key-reused``. A 5xx, a 429, a 408 or an error frees the key for a retry.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haechi.core.db import utcnow
from haechi.core.errors import Unauthorized
from haechi.platform import problems
from haechi.platform.apikeys import service as apikeys
from haechi.platform.auth import tokens

TTL_SECONDS = 24 * 3600
PURPOSE = "platform-idempotency"
_KEY = re.compile(r"[A-Za-z0-9_.:\-]{1,100}")
# Answers that say "try again later", not what the request did: never replayed.
_NOT_AN_OUTCOME = frozenset({408, 429})


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _problem(send: Send, status: int, code: str, detail: str) -> None:
    body = orjson.dumps(
        {
            "type": problems.PROBLEM_BASE + code,
            "title": code.replace("-", " "),
            "status": status,
            "code": code,
            "detail": detail,
        }
    )
    await _answer(send, status, body, [(b"content-type", problems.PROBLEM.encode())])


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    chunks: list[bytes] = []
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


async def _still_works(runtime: Any, auth: bytes) -> bool:
    """Whether the credential still authenticates: a stored answer (which can hold a secret
    shown once) is never replayed to a signed-out, expired or revoked credential."""
    scheme, _, value = auth.decode("latin-1").partition(" ")
    token = value.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        if token.startswith(apikeys.KEY_PREFIX):
            async with runtime.sessions() as db:
                await apikeys.authenticate(db, token=token, pepper=runtime.pepper, now=utcnow())
        else:
            claims = tokens.read_access(runtime.keyring, token)
            await tokens.check_not_denied(runtime.store, claims)
    except Unauthorized:
        return False
    return True


async def handle(app: ASGIApp, runtime: Any, scope: Scope, receive: Receive, send: Send) -> bool:
    """Serve the request under its idempotency key; False when it has none (or cannot)."""
    headers = dict(scope["headers"])
    key = headers.get(b"idempotency-key")
    auth = headers.get(b"authorization")
    if key is None or auth is None or scope["method"] != "POST" or runtime is None:
        return False
    text = key.decode("latin-1")
    if not _KEY.fullmatch(text):
        await _problem(send, 400, "invalid", "Idempotency-Key: 1-100 of A-Z a-z 0-9 _ . : -")
        return True
    body, messages = await _read_body(receive)
    scope_id = hashlib.sha256(b"|".join([auth, scope["path"].encode(), key])).hexdigest()
    store_key = f"platform:idempotency:{scope_id}"
    fingerprint = hashlib.sha256(body).hexdigest()
    pending = list(messages)

    async def replay_receive() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    if not await _still_works(runtime, auth):
        await app(scope, replay_receive, send)  # answers the 401 itself; nothing is kept
        return True
    claimed = await runtime.store.spend(store_key, TTL_SECONDS, b"pending:" + fingerprint.encode())
    if claimed is not None:
        if claimed.startswith(b"pending:"):
            await _problem(send, 409, "idempotency-in-progress", "the first request is running")
            return True
        saved = orjson.loads(runtime.keyring.open(PURPOSE, claimed.decode()))
        if saved["fingerprint"] != fingerprint:
            await _problem(
                send, 422, "idempotency-key-reused", "this key was used with another body"
            )
            return True
        replay = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in saved["headers"]]
        replay.append((b"idempotent-replayed", b"true"))
        await _answer(send, saved["status"], saved["body"].encode("latin-1"), replay)
        return True

    status = 500
    out_headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal status, out_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers = [
                (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"
            ]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        await send(message)

    try:
        await app(scope, replay_receive, capture)
    except BaseException:
        await runtime.store.delete(store_key)
        raise
    if status >= 500 or status in _NOT_AN_OUTCOME:
        await runtime.store.delete(store_key)
        return True
    saved_answer = {
        "fingerprint": fingerprint,
        "status": status,
        "headers": [(k.decode("latin-1"), v.decode("latin-1")) for k, v in out_headers],
        "body": b"".join(chunks).decode("latin-1"),
    }
    sealed = runtime.keyring.seal(PURPOSE, orjson.dumps(saved_answer))
    await runtime.store.set(store_key, sealed.encode(), TTL_SECONDS)
    return True
