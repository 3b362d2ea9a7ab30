"""What one connection may hold, against `haechi serve` over raw sockets: head size and field
count (431), head and body timeouts (408, then closed), the per-process connection cap (503)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import Haechi

TIMEOUT = 1.5
CAP = 24
LIMITS = {
    "HAECHI_SERVER__HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
    "HAECHI_SERVER__BODY_TIMEOUT_SECONDS": str(TIMEOUT),
    "HAECHI_SERVER__MAX_CONNECTIONS": str(CAP),
    "HAECHI_LOG__ACCESS": "false",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    srv = Haechi(tmp_path_factory.mktemp("limits") / "data", dict(LIMITS))
    srv.start()
    yield srv
    srv.stop()


def connect(server: Haechi) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def rss_kib(server: Haechi) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def head(*fields: str) -> bytes:
    return ("GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join(f + "\r\n" for f in fields)).encode()


def test_within_limits_is_served_and_kept_alive(server: Haechi) -> None:
    with connect(server) as sock:
        fields = [f"X-F{i}: {'v' * 100}" for i in range(98)]  # 99 with Host
        for _ in range(2):
            sock.sendall(head(*fields) + b"\r\n")
            reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200"), reply[:80]
        sock.sendall(head("Connection: close") + b"\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 200")


def test_too_many_fields_is_431(server: Haechi) -> None:
    with connect(server) as sock:
        sock.sendall(head(*(f"X-F{i}: 1" for i in range(100))) + b"\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize("size", [17 * 1024, 200 * 1024])
def test_a_head_over_16_kib_is_431_in_one_piece(server: Haechi, size: int) -> None:
    with connect(server) as sock:
        sock.sendall(head(f"X-Big: {'a' * size}") + b"\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 431")


def test_streamed_heads_are_cut_off_without_growing_the_server(server: Haechi) -> None:
    before = rss_kib(server)
    socks = [connect(server) for _ in range(8)]
    sent = [0] * len(socks)
    for sock in socks:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: ")
    chunk = b"a" * 65536
    for i, sock in enumerate(socks):
        try:
            for _ in range(64 * 16):  # up to 64 MiB each
                sock.sendall(chunk)
                sent[i] += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
    for sock in socks:
        with sock:
            reply = answer(sock)
            assert reply == b"" or reply.startswith(b"HTTP/1.1 431")
    # Each was refused after at most a few reads, not 64 MiB in.
    assert max(sent) < 4 * 1024 * 1024, sent
    assert rss_kib(server) - before < 16 * 1024


def test_slow_head_times_out_with_408(server: Haechi) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 408")
        assert TIMEOUT - 0.2 < time.monotonic() - started < TIMEOUT + 2


def test_silent_connection_is_closed(server: Haechi) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        assert answer(sock) == b""
        assert time.monotonic() - started < TIMEOUT + 2


def test_slow_body_times_out_with_408(server: Haechi) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /siteverify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"secret":'
        )
        assert answer(sock).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < TIMEOUT + 2


def test_connections_past_the_cap_get_503(server: Haechi) -> None:
    held = [connect(server) for _ in range(CAP)]
    try:
        time.sleep(0.2)
        with connect(server) as extra:
            reply = answer(extra)
            assert reply.startswith(b"HTTP/1.1 503"), reply[:80]
            assert b"retry-after: 1" in reply
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    with connect(server) as sock:
        sock.sendall(head("Connection: close") + b"\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 200")
