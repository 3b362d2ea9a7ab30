"""The hot path's random bytes: from the OS, each handed out once, fresh after fork."""

from __future__ import annotations

import os
import re
import threading

from haechi.core import randomness
from haechi.core.randomness import POOL_BYTES, RandomPool


def test_slices_are_handed_out_once_across_refills() -> None:
    pool = RandomPool()
    taken = [pool.take(12) for _ in range(3 * POOL_BYTES // 12)]
    assert all(len(b) == 12 for b in taken)
    # 1,024 draws of 96 bits: a repeat would mean a slice was handed out twice.
    assert len(set(taken)) == len(taken)
    assert len(pool.take(POOL_BYTES)) == POOL_BYTES  # large asks go straight to the OS


def test_threads_never_share_a_slice() -> None:
    pool = RandomPool()
    seen: list[bytes] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [pool.take(16) for _ in range(2000)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == len(seen) == 8000


def test_a_forked_child_draws_other_bytes_and_ids() -> None:
    randomness.random_bytes(1)  # the parent's pool holds bytes not yet handed out
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next bytes and id, to the parent
        os.write(write, randomness.random_bytes(16) + randomness.request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.waitpid(pid, 0)
    os.close(read)
    assert child[:16] != randomness.random_bytes(16)
    assert child[16:24].decode() != randomness.request_id()[:8]  # its own process prefix


def test_request_ids_are_unique_hex() -> None:
    ids = [randomness.request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
