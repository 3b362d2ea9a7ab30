"""Redis ephemeral store, shared by every replica (Redis 6.2 or newer).

Values, counters and rate-limit windows live in separate key spaces under the store's prefix
(``v:``, ``c:``, ``r:``) so that taking counters can never touch a spent token. Multi-step
operations are Lua scripts (EVALSHA, one round trip, atomic); the rate-limit script reads the
server's clock so replicas with skewed clocks still share one window. redis-py picks the hiredis
parser by itself when it is installed (the ``redis`` extra installs it). The hot commands (spend,
get, rate limits) issued during one event-loop turn go out as one batch (``_Batcher``), on a
connection of their own that skips redis-py's machinery (``haechi.core.store.resp``).

The epoch (``Store``) is the key ``<prefix>epoch``, without a TTL. Every spend script reads it
and, when it is gone (a restart without persistence, a flush), creates a new one from the
caller's candidate, then refuses a value issued under another: a lost state is noticed by the
first spend after it, in that spend's own round trip. ``sync_epoch`` does the same alone; the
runtime calls it every second so new challenges carry the new epoch soon after a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError, ResponseError

from haechi.core.store.base import (
    UNKNOWN_EPOCH,
    RateDecision,
    StaleEpoch,
    Store,
    StoreUnavailable,
    new_epoch,
)
from haechi.core.store.resp import RespClient

# The store's epoch at KEYS[epoch], created from ``candidate`` when missing.
_EPOCH = """
local function current_epoch(key, candidate)
  local epoch = redis.call('GET', key)
  if not epoch then
    redis.call('SET', key, candidate)
    epoch = candidate
  end
  return epoch
end
"""

# Spend KEYS[spend] unless the epoch is not ``expected`` ('' checks nothing): returns
# {0, false, epoch} when spent now, {1, earlier value, epoch} when spent before, {2, false,
# epoch} when the epoch is another (nothing spent). (SET NX GET would spare the GET, from 7.0.)
_SPEND_AT = (
    _EPOCH
    + """
local function spend_at(key, epoch_key, value, ttl, expected, candidate)
  local epoch = current_epoch(epoch_key, candidate)
  if expected ~= '' and expected ~= epoch then return {2, false, epoch} end
  local earlier = redis.call('GET', key)
  if earlier then return {1, earlier, epoch} end
  redis.call('SET', key, value, 'PX', ttl)
  return {0, false, epoch}
end
"""
)

# KEYS[1] token, KEYS[2] epoch; ARGV value, ttl in ms, expected epoch, candidate epoch.
_SPEND = _SPEND_AT + "return spend_at(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])\n"

# KEYS[1] a seal (value key), KEYS[2..] counters; ARGV[1] the full target prefix, ARGV[2] the
# length of the counters' own prefix. Moves nothing and answers 0 when the seal exists.
_MOVE_COUNTERS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local cut = tonumber(ARGV[2])
for i = 2, #KEYS do
  local n = redis.call('GETDEL', KEYS[i])
  if n and tonumber(n) ~= 0 then
    redis.call('INCRBY', ARGV[1] .. string.sub(KEYS[i], cut + 1), n)
  end
end
return 1
"""

# KEYS[1] epoch; ARGV[1] candidate.
_SYNC_EPOCH = _EPOCH + "return current_epoch(KEYS[1], ARGV[1])\n"

# Two-bucket sliding window counters, checked in order. ``hit_all(count)`` counts KEYS[1..count],
# each a hash {i: window index, c: count in it, p: count in the window before}; ARGV[1] is the
# window in microseconds, ARGV[1 + n] the limit of KEYS[n]. It returns {allowed, count,
# retry_after_ms} per key, stopping after the first denial (later keys are not counted), and
# whether every key was allowed. The same arithmetic as MemoryStore.hit.
_WINDOWS = """
local window = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local index = math.floor(now / window)
local elapsed = now - index * window
local function hit_all(count)
  local out = {}
  for n = 1, count do
    local key = KEYS[n]
    local limit = tonumber(ARGV[n + 1])
    local state = redis.call('HMGET', key, 'i', 'c', 'p')
    local old = tonumber(state[1])
    local cur = tonumber(state[2]) or 0
    local prev = tonumber(state[3]) or 0
    if old ~= index then
      if old == index - 1 then prev = cur else prev = 0 end
      cur = 0
    end
    local weighted = prev * (1 - elapsed / window)
    if weighted + cur + 1 <= limit then
      cur = cur + 1
      redis.call('HSET', key, 'i', string.format('%d', index), 'c', cur, 'p', prev)
      redis.call('PEXPIRE', key, math.ceil(((index + 2) * window - now) / 1000))
      table.insert(out, 1)
      table.insert(out, cur + math.ceil(weighted))
      table.insert(out, 0)
    else
      local wait
      if limit <= 0 then
        wait = window
      elseif cur < limit and prev > 0 then
        wait = window * (1 - (limit - cur - 1) / prev) - elapsed
      else
        wait = window - elapsed + window * math.max(0, 1 - (limit - 1) / cur)
      end
      table.insert(out, 0)
      table.insert(out, cur + math.ceil(weighted))
      table.insert(out, math.max(math.ceil(wait / 1000), 1))
      return out, false
    end
  end
  return out, true
end
"""

_HIT = _WINDOWS + "return (hit_all(#KEYS))\n"

# The windows of KEYS[1..n-2] as in _HIT, then, when all allowed, the spend of KEYS[n] as in
# _SPEND with KEYS[n - 1] the epoch and ARGV[n .. n + 3] the value, ttl in ms, expected and
# candidate epochs. The spend's three items follow the decisions; nothing when a window denied.
_HIT_SPEND = (
    _WINDOWS
    + _SPEND_AT
    + """
local n = #KEYS
local out, allowed = hit_all(n - 2)
if not allowed then return out end
local spent = spend_at(KEYS[n], KEYS[n - 1], ARGV[n], ARGV[n + 1], ARGV[n + 2], ARGV[n + 3])
for _, item in ipairs(spent) do table.insert(out, item) end
return out
"""
)

_SCAN_COUNT = 1000
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def _glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _decisions(flat: list[Any], limits: Sequence[tuple[str, int]]) -> list[RateDecision]:
    """The windows' replies, three items per key counted, as decisions."""
    return [
        RateDecision(bool(flat[i]), int(flat[i + 1]), limits[i // 3][1], flat[i + 2] / 1000.0)
        for i in range(0, 3 * len(limits), 3)
        if i < len(flat)
    ]


class _Unavailable:
    """Re-raises any backend failure as StoreUnavailable, the one error callers fail closed on."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(error, RedisError | OSError):
            raise StoreUnavailable(f"redis: {error!r}") from error


_unavailable = _Unavailable()


class _Batcher:
    """Sends the commands issued during one event-loop turn to Redis as one pipeline.

    Under load many requests reach the store in the same turn; one write and one read for all
    of them costs far less CPU than a round trip each (redis-py's per-command overhead is most of
    a hot request's cost in Redis mode). Each command stays atomic on its own, and none waits for
    more than the current turn, so latency does not grow. A lone command goes out by itself.
    """

    def __init__(self, redis: Redis, client: RespClient | None = None) -> None:
        self._redis = redis
        self._client = client  # the lean connection (resp.py); None: redis-py's pipeline
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    def call(self, *args: Any) -> asyncio.Future[Any]:
        """The reply to ``args`` (a Redis command), sent with this turn's other commands."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((args, future))
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)  # a reference, so the task is not collected mid-flight
        task.add_done_callback(self._sending.discard)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        replies: list[Any]
        try:
            if self._client is not None:
                replies = await self._client.execute([args for args, _ in batch])
            elif len(batch) == 1:
                command = batch[0][0]
                try:
                    replies = [await self._redis.execute_command(*command)]  # type: ignore[no-untyped-call]
                except ResponseError as error:
                    replies = [error]
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for args, _ in batch:
                        pipe.execute_command(*args)
                    replies = await pipe.execute(raise_on_error=False)
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled (shutdown): so are the requests waiting on it
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its request was cancelled (client gone)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)


class RedisStore(Store):
    """The ephemeral store in Redis, every key under ``key_prefix``."""

    # /readyz must answer quickly even when Redis hangs rather than refuses.
    ping_timeout_seconds = 2.0

    def __init__(
        self, redis: Redis, *, key_prefix: str = "haechi:", client: RespClient | None = None
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._values = f"{key_prefix}v:"
        self._counters = f"{key_prefix}c:"
        self._windows = f"{key_prefix}r:"
        self._epoch_key = f"{key_prefix}epoch"
        self._epoch = UNKNOWN_EPOCH
        # What a script creates the epoch from when it is missing; replaced once used, so that
        # two losses of state never come back to the same epoch.
        self._candidate = new_epoch()
        self._spend = redis.register_script(_SPEND)
        self._sync_epoch = redis.register_script(_SYNC_EPOCH)
        self._hit = redis.register_script(_HIT)
        self._hit_spend = redis.register_script(_HIT_SPEND)
        self._move_counters = redis.register_script(_MOVE_COUNTERS)
        self._batch = _Batcher(redis, client)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key_prefix: str = "haechi:",
        max_connections: int = 64,
        pool_timeout: float = 5.0,
        socket_timeout: float = 5.0,
        socket_connect_timeout: float = 2.0,
    ) -> RedisStore:
        """A store on a pool of at most ``max_connections`` connections to ``url``.

        The pool blocks (up to ``pool_timeout``) when every connection is busy: the default
        redis-py pool raises instead, which would turn a burst of traffic into an outage.
        """
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            health_check_interval=30,
        )
        redis = Redis.from_pool(pool)
        client = RespClient.from_url(
            url, connect_timeout=socket_connect_timeout, reply_timeout=socket_timeout
        )
        return cls(redis, key_prefix=key_prefix, client=client)

    async def _script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA ``script`` in this turn's batch; loads it first when Redis lost it (restart,
        SCRIPT FLUSH) and retries once."""
        try:
            return await self._batch.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await script(keys=keys, args=args)

    # ------------------------------------------------------------------ epoch

    @property
    def epoch(self) -> str:
        return self._epoch

    def _saw_epoch(self, reply: bytes) -> str:
        epoch = reply.decode("ascii")
        if epoch == self._candidate:
            self._candidate = new_epoch()
        self._epoch = epoch
        return epoch

    async def sync_epoch(self) -> str:
        with _unavailable:
            reply = await self._script(self._sync_epoch, [self._epoch_key], [self._candidate])
        return self._saw_epoch(bytes(reply))

    def _spent(self, key: str, reply: list[Any]) -> bytes | None:
        """The result of ``spend_at``'s three items: [status, earlier value, epoch]."""
        status, earlier, epoch = reply
        self._saw_epoch(bytes(epoch))
        if status == 2:
            raise StaleEpoch(key)
        return None if status == 0 else bytes(earlier)

    # ------------------------------------------------------------------ values

    async def spend(
        self, key: str, ttl_seconds: float, value: bytes = b"1", epoch: str | None = None
    ) -> bytes | None:
        with _unavailable:
            reply = await self._script(
                self._spend,
                [self._values + key, self._epoch_key],
                [value, _ms(ttl_seconds), epoch or "", self._candidate],
            )
        return self._spent(key, reply)

    async def get(self, key: str) -> bytes | None:
        with _unavailable:
            # decode_responses is off: replies are bytes, never str.
            return cast("bytes | None", await self._batch.call("GET", self._values + key))

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        with _unavailable:
            await self._redis.set(self._values + key, value, px=_ms(ttl_seconds))

    async def delete(self, key: str) -> None:
        with _unavailable:
            await self._redis.delete(self._values + key)

    # ------------------------------------------------------------------ counters

    async def incr_many(self, counts: dict[str, int], ttl_seconds: float | None = None) -> None:
        if not counts:
            return
        ttl_ms = None if ttl_seconds is None else _ms(ttl_seconds)
        with _unavailable:
            # MULTI/EXEC: the batch is applied whole or not at all, so a retry after a failure
            # cannot count part of it twice.
            async with self._redis.pipeline(transaction=True) as pipe:
                for key, n in counts.items():
                    name = self._counters + key
                    pipe.incrby(name, n)
                    if ttl_ms is not None:
                        pipe.pexpire(name, ttl_ms)
                await pipe.execute()

    async def get_counter(self, key: str) -> int:
        with _unavailable:
            value = await self._redis.get(self._counters + key)
        return 0 if value is None else int(value)

    async def take_counters(self, prefix: str) -> dict[str, int]:
        """See Store.take_counters. Each SCAN page is taken with GETDEL in one MULTI/EXEC.

        When Redis fails part-way, what was already taken is returned (the rest stays for the
        next call) rather than dropped; only a failure before anything was taken raises.
        """
        pattern = _glob_escape(self._counters + prefix) + "*"
        cut = len(self._counters.encode())
        taken: dict[str, int] = {}
        try:
            with _unavailable:
                async for names in self._scan_pages(pattern):
                    async with self._redis.pipeline(transaction=True) as pipe:
                        for name in names:
                            pipe.getdel(name)
                        values = await pipe.execute()
                    for name, value in zip(names, values, strict=True):
                        if value is not None and (n := int(value)):
                            key = name[cut:].decode()
                            taken[key] = taken.get(key, 0) + n
        except StoreUnavailable:
            if not taken:
                raise
        return taken

    async def move_counters(self, prefix: str, into: str, unless: str) -> bool:
        """See Store.move_counters: one script per SCAN page, each checking the seal first."""
        pattern = _glob_escape(self._counters + prefix) + "*"
        seal = self._values + unless
        args = [self._counters + into, len(self._counters.encode())]
        with _unavailable:
            async for names in self._scan_pages(pattern):
                keys = [seal, *(name.decode() for name in names)]
                if not await self._script(self._move_counters, keys, args):
                    return False
            return not await self._redis.exists(seal)

    async def peek_counters(self, prefix: str) -> dict[str, int]:
        pattern = _glob_escape(self._counters + prefix) + "*"
        cut = len(self._counters.encode())
        found: dict[str, int] = {}
        with _unavailable:
            async for names in self._scan_pages(pattern):
                values = await self._redis.mget(names)
                for name, value in zip(names, values, strict=True):
                    if value is not None and (n := int(value)):
                        found[name[cut:].decode()] = n
        return found

    # ------------------------------------------------------------------ rate limits

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        return (await self.hit_many([(key, limit)], window_seconds))[0]

    async def hit_many(
        self, limits: Sequence[tuple[str, int]], window_seconds: float
    ) -> list[RateDecision]:
        window_us = max(1, round(window_seconds * 1_000_000))
        with _unavailable:
            flat = await self._script(
                self._hit,
                [self._windows + key for key, _ in limits],
                [window_us, *(limit for _, limit in limits)],
            )
        return _decisions(flat, limits)

    async def hit_many_then_spend(
        self,
        limits: Sequence[tuple[str, int]],
        window_seconds: float,
        key: str,
        ttl_seconds: float,
        value: bytes = b"1",
        epoch: str | None = None,
    ) -> tuple[list[RateDecision], bytes | None]:
        window_us = max(1, round(window_seconds * 1_000_000))
        with _unavailable:
            flat = await self._script(
                self._hit_spend,
                [
                    *(self._windows + name for name, _ in limits),
                    self._epoch_key,
                    self._values + key,
                ],
                [
                    window_us,
                    *(limit for _, limit in limits),
                    value,
                    _ms(ttl_seconds),
                    epoch or "",
                    self._candidate,
                ],
            )
        decisions = _decisions(flat, limits)
        # Every limit allowed: the spend's result follows the decisions.
        if len(flat) > 3 * len(limits):
            return decisions, self._spent(key, flat[3 * len(limits) :])
        return decisions, None

    # ------------------------------------------------------------------ broadcast

    async def publish(self, channel: str, message: bytes) -> None:
        with _unavailable:
            await self._redis.publish(self._prefix + channel, message)

    async def subscribe(self, channel: str) -> AsyncIterator[bytes]:
        """Messages published on ``channel`` (by any replica), as they arrive.

        The subscription starts on the first iteration; messages published before it are not
        seen. Raises StoreUnavailable when the connection is lost for good.
        """
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            with _unavailable:
                await pubsub.subscribe(self._prefix + channel)
            while True:
                # A bounded wait instead of listen(): older redis-py applies socket_timeout to
                # a blocking read and would raise on a quiet channel.
                with _unavailable:
                    message: dict[str, Any] | None = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=1.0
                    )
                if message is not None and message["type"] == "message":
                    yield bytes(message["data"])
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py

    # ------------------------------------------------------------------ lifecycle

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self.ping_timeout_seconds):
                return bool(await self._redis.ping())  # type: ignore[misc]
        except Exception:
            return False

    async def flush_prefix(self) -> None:
        """Delete every key under this store's prefix (tests, and resetting a deployment)."""
        pattern = _glob_escape(self._prefix) + "*"
        with _unavailable:
            async for names in self._scan_pages(pattern):
                await self._redis.unlink(*names)

    async def _scan_pages(self, pattern: str) -> AsyncIterator[list[bytes]]:
        cursor = 0
        while True:
            cursor, names = await self._redis.scan(cursor, match=pattern, count=_SCAN_COUNT)
            if names:
                yield cast("list[bytes]", names)
            if cursor == 0:
                return

    async def close(self) -> None:
        self._batch.close()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()
