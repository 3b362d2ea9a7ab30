"""uvicorn's protocol over ``BatchingTransport``: a response's writes leave in one send."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from haechi.core.http import BatchingTransport, HttpToolsProtocol


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.extra = {"peername": ("127.0.0.1", 5)}

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


async def test_writes_in_one_turn_leave_together() -> None:
    raw = FakeTransport()
    transport = BatchingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert raw.writes == []
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert raw.writes[-1] == b"next"
    # Other calls reach the transport as they are.
    assert transport.get_extra_info("peername") == ("127.0.0.1", 5)


async def test_close_sends_what_is_pending_first_and_nothing_after() -> None:
    raw = FakeTransport()
    transport = BatchingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"last words")
    transport.close()
    assert raw.writes == [b"last words"] and raw.closed
    transport.write(b"too late")
    await asyncio.sleep(0)
    assert raw.writes == [b"last words"]


async def test_uvicorn_serves_through_it() -> None:
    import uvicorn

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = (await receive()).get("body", b"")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"got " + body})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http=HttpToolsProtocol, log_level="error", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient() as client:
        for i in range(3):  # keep-alive: several responses on one connection
            answer = await client.post(f"http://127.0.0.1:{port}/", content=f"{i}".encode())
            assert answer.status_code == 200 and answer.text == f"got {i}"
    server.should_exit = True
    await task
