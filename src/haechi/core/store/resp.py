"""One pipelined Redis connection for the store's hot commands: RESP over an asyncio protocol,
replies parsed by hiredis.

Every /v1/challenge, /v1/solve and /siteverify makes one store call (a Lua script or a GET), and
the store sends the calls made in one event-loop turn together (``redis._Batcher``). Through
redis-py's asyncio pipeline, a batch cost more Python than the rest of the request: a pooled
connection checked out and back, commands packed one by one, a retry wrapper, a stream writer and
a read per reply (bench/RESULTS.md). Redis answers a connection's commands in the order they were
sent, so this keeps one connection, writes each batch with one ``write`` and hands each batch its
replies as they are parsed. Everything else (SCAN, MULTI/EXEC, pub/sub, loading scripts) stays
on redis-py, and so does a TLS URL (``rediss://``): ``RespClient.from_url`` returns None for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import NoScriptError, ResponseError

Command = tuple[Any, ...]


class _Batch:
    __slots__ = ("expected", "future", "replies")

    def __init__(self, expected: int, future: asyncio.Future[list[Any]]) -> None:
        self.expected = expected
        self.future = future
        self.replies: list[Any] = []


def _error_reply(message: str) -> ResponseError:
    """An error reply as redis-py's exception, in the reply list: NOSCRIPT as NoScriptError, so
    the store loads the script and retries; anything else as ResponseError."""
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


class RespConnection(asyncio.Protocol):
    """A connection whose batches are answered in the order they were written."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader(replyError=_error_reply)
        self._waiting: deque[_Batch] = deque()
        self._transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports (the server's loop) do not subclass asyncio.Transport.
        self._transport = cast("asyncio.Transport", transport)

    def send(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """The replies to ``commands``, in order, once all of them have arrived."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if self.lost is not None or self._transport is None:
            future.set_exception(ConnectionError(f"redis connection lost: {self.lost!r}"))
            return future
        data = b"".join([hiredis.pack_command(command) for command in commands])
        self._waiting.append(_Batch(len(commands), future))
        self._transport.write(data)
        return future

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiting = self._waiting
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as error:
                self._fail(ConnectionError(f"redis sent what is not RESP: {error}"))
                return
            if reply is False:
                return
            if not waiting:
                self._fail(ConnectionError("redis sent a reply nobody asked for"))
                return
            batch = waiting[0]
            batch.replies.append(reply)
            if len(batch.replies) == batch.expected:
                waiting.popleft()
                if not batch.future.done():  # its sender may have given up (timeout, cancel)
                    batch.future.set_result(batch.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("redis closed the connection"))

    def close(self) -> None:
        self._fail(ConnectionError("redis connection closed"))

    def _fail(self, error: Exception) -> None:
        """Fail every batch still waiting; the connection is not used again."""
        if self.lost is None:
            self.lost = error
        if self._transport is not None:
            self._transport.close()
        while self._waiting:
            future = self._waiting.popleft().future
            if not future.done():
                future.set_exception(ConnectionError(f"redis connection lost: {error!r}"))


class RespClient:
    """Batches of commands on one connection, opened on first use and again after a loss.

    A batch not answered within ``reply_timeout`` closes the connection (its later replies
    could no longer be matched) and fails with ``TimeoutError``, as every batch waiting with it.
    """

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        username: str | None = None,
        password: str | None = None,
        db: int = 0,
        connect_timeout: float = 2.0,
        reply_timeout: float = 5.0,
    ) -> None:
        self._host, self._port, self._path = host, port, path
        self._setup: list[Command] = []
        if password is not None:
            self._setup.append(("AUTH", username, password) if username else ("AUTH", password))
        if db:
            self._setup.append(("SELECT", db))
        self._connect_timeout = connect_timeout
        self._reply_timeout = reply_timeout
        self._connection: RespConnection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **timeouts: float) -> RespClient | None:
        """A client for a ``redis://`` or ``unix://`` URL; None for anything else (TLS)."""
        if not url.startswith(("redis://", "unix://")):
            return None
        options = parse_url(url)
        return cls(
            host=options.get("host", "localhost"),
            port=int(options.get("port", 6379)),
            path=options.get("path"),
            username=options.get("username"),
            password=options.get("password"),
            db=int(options.get("db", 0)),
            **timeouts,
        )

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """The replies to ``commands`` (a ResponseError for each that Redis refused). Raises
        OSError (ConnectionError, TimeoutError) when Redis cannot be reached or does not answer."""
        connection = self._connection
        if connection is None or connection.lost is not None:
            connection = await self._connect()
        try:
            async with asyncio.timeout(self._reply_timeout):
                return await connection.send(commands)
        except TimeoutError:
            connection.close()
            raise TimeoutError(f"redis did not answer within {self._reply_timeout:g} s") from None

    async def _connect(self) -> RespConnection:
        async with self._lock:  # the batches waiting meanwhile share one new connection
            connection = self._connection
            if connection is not None and connection.lost is None:
                return connection
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(self._connect_timeout):
                if self._path is not None:
                    _, connection = await loop.create_unix_connection(RespConnection, self._path)
                else:
                    _, connection = await loop.create_connection(
                        RespConnection, self._host, self._port
                    )
                if self._setup:
                    for reply in await connection.send(self._setup):
                        if isinstance(reply, Exception):
                            connection.close()
                            raise reply
            self._connection = connection
            return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
