"""uvicorn's httptools protocol with one change: what a response writes in one turn of the event
loop leaves in one ``send`` system call.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``: two system calls for every answer, though
the edge's handlers send both back to back. On the virtual machines Haechi is measured on a
system call costs several microseconds, a sizeable share of a request that costs 50-150 µs in
all (bench/RESULTS.md). ``BatchingTransport`` collects the writes made until the current
callback ends and sends them together. The transport's flow control is untouched: the bytes
reach it a moment later, within the same loop iteration.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _UvicornHttpTools


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


class HttpToolsProtocol(_UvicornHttpTools):
    """``uvicorn --http haechi.core.http:HttpToolsProtocol``: uvicorn's, over a batching
    transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(BatchingTransport(transport, self.loop))  # type: ignore[arg-type]
