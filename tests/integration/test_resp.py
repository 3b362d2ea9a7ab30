"""The store's lean Redis connection (haechi.core.store.resp) against a real Redis, and against
loopback servers that hang or talk nonsense."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from haechi.core.store.base import StoreUnavailable
from haechi.core.store.redis import RedisStore
from haechi.core.store.resp import RespClient

from ..conftest import REDIS_URL, unavailable


@pytest.fixture
async def client() -> AsyncIterator[RespClient]:
    resp = RespClient.from_url(REDIS_URL)
    assert resp is not None
    try:
        await resp.execute([("PING",)])
    except OSError as error:
        unavailable("Redis", error)
    yield resp
    resp.close()


async def test_a_batch_gets_its_replies_in_order_with_errors_in_place(client: RespClient) -> None:
    key = f"haechi_test:resp:{secrets.token_hex(4)}"
    replies = await client.execute(
        [
            ("SET", key, b"text", "PX", 5000),
            ("GET", key),
            ("INCR", key),
            ("EVALSHA", "0" * 40, 0),
            ("PING",),
            ("DEL", key),
        ]
    )
    assert replies[:2] == [b"OK", b"text"]
    # Refused, the rest still ran: not an integer; a script Redis lacks, as redis-py names it.
    assert type(replies[2]) is ResponseError
    assert isinstance(replies[3], NoScriptError)
    assert replies[4:] == [b"PONG", 1]


async def test_concurrent_batches_each_get_their_own_replies(client: RespClient) -> None:
    results = await asyncio.gather(*(client.execute([("ECHO", str(i))] * 3) for i in range(50)))
    assert results == [[str(i).encode()] * 3 for i in range(50)]


async def test_the_url_selects_its_database() -> None:
    key = f"haechi_test:resp:{secrets.token_hex(4)}"
    resp = RespClient.from_url("redis://127.0.0.1:6379/13")
    assert resp is not None
    other = Redis.from_url("redis://127.0.0.1:6379/13")
    try:
        try:
            await resp.execute([("SET", key, b"13", "PX", 5000)])
        except OSError as error:
            unavailable("Redis", error)
        assert await other.get(key) == b"13"
    finally:
        resp.close()
        await other.aclose()


async def test_a_connection_killed_by_the_server_is_opened_again(client: RespClient) -> None:
    [first_id] = await client.execute([("CLIENT", "ID")])
    admin = Redis.from_url(REDIS_URL)
    try:
        assert await admin.execute_command("CLIENT", "KILL", "ID", first_id) == 1
    finally:
        await admin.aclose()
    for _ in range(50):  # the loss reaches the connection on the loop's next read
        try:
            [second_id] = await client.execute([("CLIENT", "ID")])
            break
        except ConnectionError:
            await asyncio.sleep(0.01)
    assert second_id != first_id


async def test_a_wrong_password_fails_the_store_closed() -> None:
    host_port = REDIS_URL.split("//", 1)[1].split("/", 1)[0]
    store = RedisStore.from_url(f"redis://:wrong-{secrets.token_hex(4)}@{host_port}/15")
    try:
        with pytest.raises(StoreUnavailable):
            await store.spend("tok", 5.0)
    finally:
        await store.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handle: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def test_a_server_that_never_answers_times_out_every_waiting_batch() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        await asyncio.sleep(10)

    server, port = await _serve(silent)
    resp = RespClient(port=port, reply_timeout=0.2)
    try:
        results = await asyncio.gather(
            resp.execute([("GET", "a")]), resp.execute([("GET", "b")]), return_exceptions=True
        )
        assert all(isinstance(r, TimeoutError | ConnectionError) for r in results), results
        assert any(isinstance(r, TimeoutError) for r in results)
    finally:
        resp.close()
        server.close()


async def test_a_server_that_talks_nonsense_loses_its_connection() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        writer.write(b"?not resp\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    server, port = await _serve(garbage)
    resp = RespClient(port=port, reply_timeout=2.0)
    try:
        with pytest.raises(ConnectionError):
            await resp.execute([("PING",)])
    finally:
        resp.close()
        server.close()


def test_it_runs_on_the_servers_event_loop() -> None:
    """``haechi serve`` runs on uvloop, whose transports are not asyncio's classes."""
    import uvloop

    async def main() -> list[object]:
        resp = RespClient.from_url(REDIS_URL)
        assert resp is not None
        try:
            return await resp.execute([("PING",), ("ECHO", b"uv")])
        except OSError as error:
            unavailable("Redis", error)
            raise
        finally:
            resp.close()

    assert uvloop.run(main()) == [b"PONG", b"uv"]


def test_tls_urls_stay_on_redis_py() -> None:
    assert RespClient.from_url("rediss://cache.internal:6380/0") is None
    assert RespClient.from_url("unix:///run/redis.sock?db=2") is not None
