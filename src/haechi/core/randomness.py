"""Random bytes for the hot path without a system call each: challenge and token ids, seal
nonces.

``os.urandom`` is one ``getrandom`` system call per use, and on the virtual machines this runs
on a system call costs several microseconds: three of them (request id, challenge id, seal
nonce) were a tenth of ``/v1/challenge``'s CPU (bench/RESULTS.md). ``RandomPool`` takes the
operating system's randomness 4 KiB at a time and hands it out in slices, as a user-space
generator seeded from the OS would, so the bytes are exactly as unpredictable as
``os.urandom``'s. The pool is refilled in a child after ``fork`` (so two processes never hand
out the same bytes) and locked for the threads that seal off the event loop.

Request ids are not secrets and only need to be unique: ``request_id`` is a per-process random
prefix and a counter.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Final

POOL_BYTES: Final = 4096


class RandomPool:
    __slots__ = ("_buffer", "_lock", "_offset")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0

    def reset(self) -> None:
        """Forget every byte not yet handed out (after ``fork``)."""
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0

    def take(self, n: int) -> bytes:
        """``n`` bytes from the operating system's generator, each handed out once."""
        if n > POOL_BYTES // 4:
            return os.urandom(n)
        with self._lock:
            start = self._offset
            end = start + n
            if end > len(self._buffer):
                self._buffer, start, end = os.urandom(POOL_BYTES), 0, n
            self._offset = end
            return self._buffer[start:end]


_POOL = RandomPool()
random_bytes = _POOL.take


_prefix = ""
_counter = itertools.count()


def _new_process() -> None:
    global _prefix, _counter
    _POOL.reset()
    _prefix = os.urandom(4).hex()
    _counter = itertools.count()


def request_id() -> str:
    """A request id unique to this request: 8 hex digits for the process, 8 for the count."""
    return f"{_prefix}{next(_counter) & 0xFFFFFFFF:08x}"


_new_process()
os.register_at_fork(after_in_child=_new_process)
