"""uvicorn's httptools protocol with two changes: what a response writes in one turn of the event
loop leaves in one ``send`` system call, and each connection is held to the limits of
``ServerSettings`` (head size and field count, head and body timeouts, a per-process cap).

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``: two system calls for every answer, though
the edge's handlers send both back to back. On the virtual machines Haechi is measured on a
system call costs several microseconds, a sizeable share of a request that costs 50-150 µs in
all (bench/RESULTS.md). ``BatchingTransport`` collects the writes made until the current
callback ends and sends them together. The transport's flow control is untouched: the bytes
reach it a moment later, within the same loop iteration.

httptools (llhttp) has no limit on a head's size and uvicorn none on the time a head or body
takes: a client could hold megabytes of headers or a half-sent request forever
(docs/operations.md, "Connection limits").
"""

from __future__ import annotations

import asyncio
import functools
import resource
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _UvicornHttpTools

from haechi.core.settings import ServerSettings, Settings

# Descriptors a process keeps for itself (database, store, log, listening sockets) below the
# open-file limit when it caps its connections.
_RESERVED_FDS = 64


class BatchingTransport:
    """A transport proxy whose ``write`` joins the writes made in one turn of the loop."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        pending = self._pending
        if pending is None:
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@functools.cache
def process_limits() -> tuple[ServerSettings, int]:
    """This process's limits (from the environment, read once) and its connection cap."""
    limits = Settings().server
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = limits.max_connections
    if soft != resource.RLIM_INFINITY:
        cap = max(1, min(cap, soft - _RESERVED_FDS))
    return limits, cap


def _plain(status: bytes, text: bytes, *extra: bytes) -> bytes:
    """A complete response that closes the connection."""
    head = [b"HTTP/1.1 " + status, b"content-type: text/plain; charset=utf-8"]
    head += [*extra, b"content-length: " + str(len(text)).encode(), b"connection: close"]
    return b"\r\n".join(head) + b"\r\n\r\n" + text


BUSY = _plain(b"503 Service Unavailable", b"Too many connections.", b"retry-after: 1")
TOO_LARGE = _plain(b"431 Request Header Fields Too Large", b"Request head too large.")
TIMED_OUT = _plain(b"408 Request Timeout", b"Request took too long to arrive.")


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools turns it into HttpParserCallbackError."""


class HttpToolsProtocol(_UvicornHttpTools):
    """``uvicorn --http haechi.core.http:HttpToolsProtocol``: uvicorn's, over a batching
    transport, within this process's ``ServerSettings``.

    One timer per connection: from the connection's opening (or a request's first byte after
    an idle keep-alive) to the end of the head, then from there to the end of the body.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits, self._cap = process_limits()
        self._max_bytes = limits.max_header_bytes
        self._max_fields = limits.max_header_fields
        self._head_timeout = limits.header_timeout_seconds
        self._body_timeout = limits.body_timeout_seconds
        self.timeout_keep_alive = limits.keep_alive_seconds  # type: ignore[assignment]
        self._in_head = True
        self._head_raw = 0  # bytes received while the head is incomplete
        self._head_parsed = 0  # the request line and fields, as parsed
        self._fields = 0
        self._too_large = False
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self._cap:
            self._refused = True
            self.transport = transport
            transport.write(BUSY)
            transport.close()
            return
        super().connection_made(BatchingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._arm(self._head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        transport = self.transport
        if transport.is_closing():
            return
        cycle = self.cycle
        waiting = cycle is None or cycle.response_complete
        if (self._in_head and self._head_raw and waiting) or (
            not self._in_head and cycle is not None and not cycle.response_started
        ):
            transport.write(TIMED_OUT)
        transport.close()

    def _refuse_head(self) -> None:
        self._disarm()
        self.transport.write(TOO_LARGE)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            if self._deadline is None:  # a new request on a kept-alive connection
                self._arm(self._head_timeout)
            self._head_raw += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._too_large:
                self._refuse_head()
            else:
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head and self._head_raw > self._max_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_parsed = self._fields = 0

    def on_url(self, url: bytes) -> None:
        self._head_parsed += len(url)
        if self._head_parsed > self._max_bytes:
            self._too_large = True
            raise _HeadTooLarge
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_parsed += len(name) + len(value) + 4
        self._fields += 1
        if self._head_parsed > self._max_bytes or self._fields > self._max_fields:
            self._too_large = True
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self._body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_raw = 0
        super().on_message_complete()
