"""Lean ASGI primitives for the edge's hot routes.

The protocol endpoints (/v1/challenge, /v1/solve, /siteverify and its aliases, /healthz) run
thousands of times a second. Starlette's router, its two exception middlewares and its
``Request``/``Response`` objects cost more per request than the protocol work itself (measured in
``bench/RESULTS.md``), so these routes are plain functions over the ASGI scope: a handler gets an
``EdgeRequest`` and returns an ``EdgeResponse``; ``haechi.app.EdgeApp`` sends it. Everything else
(the platform API, widget assets, the demo page) stays on Starlette, where its conveniences are
worth their cost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import Receive, Scope

from haechi.core.errors import PayloadTooLarge

Headers = list[tuple[bytes, bytes]]
JSON_CONTENT_TYPE = (b"content-type", b"application/json")


class EdgeRequest:
    """The parts of an HTTP request the edge handlers read, decoded only when asked for."""

    __slots__ = ("_headers", "receive", "runtime", "scope")

    def __init__(self, scope: Scope, receive: Receive, runtime: Any) -> None:
        self.scope = scope
        self.receive = receive
        self.runtime = runtime
        self._headers: dict[bytes, bytes] | None = None

    @property
    def client_ip(self) -> str:
        ip: str = self.scope.get("haechi.client_ip", "unknown")
        return ip

    def header(self, name: bytes) -> str | None:
        """A request header by lower-case name (the first one when repeated)."""
        if self._headers is None:
            headers: dict[bytes, bytes] = {}
            for key, value in self.scope["headers"]:
                headers.setdefault(key, value)
            self._headers = headers
        value = self._headers.get(name)
        return value.decode("latin-1") if value is not None else None

    def query(self) -> dict[str, str]:
        """Query parameters; a repeated name keeps its first value."""
        out: dict[str, str] = {}
        raw: bytes = self.scope.get("query_string", b"")
        if raw:
            for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
                out.setdefault(key, value)
        return out

    async def body(self, limit: int) -> bytes:
        """The request body, refusing more than ``limit`` bytes without reading them all."""
        declared = self.header(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise PayloadTooLarge("bad Content-Length") from None
            if size > limit:
                raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        first = b""
        chunks: list[bytes] | None = None
        size = 0
        while True:
            message = await self.receive()
            if message["type"] != "http.request":  # http.disconnect
                break
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the body is larger than {limit} bytes")
                if not first and chunks is None:
                    first = chunk
                else:
                    if chunks is None:
                        chunks = [first]
                    chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks) if chunks is not None else first


@dataclass(slots=True)
class EdgeResponse:
    status: int
    body: bytes
    headers: Headers

    @classmethod
    def json(
        cls, content: Any, status: int = 200, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> EdgeResponse:
        return cls(status, orjson.dumps(content), [JSON_CONTENT_TYPE, *headers])


Handler = Callable[[EdgeRequest], Awaitable[EdgeResponse]]


@dataclass(frozen=True, slots=True)
class EdgeRoute:
    """``methods`` on ``path`` go to ``handler``; other methods on the path get a 405."""

    path: str
    methods: tuple[str, ...]
    handler: Handler


def encode_headers(headers: dict[str, str]) -> Headers:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
