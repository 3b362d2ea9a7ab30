"""Soak: `haechi serve` under unique paths and slow-header connections at the limits; its RSS
must not grow by more than 10 % after the first minute.

    python bench/soak/run.py [--seconds 600] [--warmup 60] [--rate 400] [--json out.json]

Unique-path load: keep-alive connections sending GETs for paths never seen before under
/v1/blob/, /v1/media/, /v1/widget.<hex>.js and an unknown prefix, at ``--rate`` requests a
second. Slow heads, at the server's limits (``HAECHI_SERVER__*``, set here): connections that
trickle a head of just under 16 KiB / 100 fields and finish it just before the head timeout
(served), that go past it (408), that send too much (431), and more open connections than the
per-process cap (503). RSS is read from /proc every 5 s; the result is printed as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HAECHI = str(Path(sys.executable).parent / "haechi")
HEAD_TIMEOUT = 10.0
MAX_HEAD = 16 * 1024
MAX_FIELDS = 100
CAP = 512


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def unique_path() -> str:
    token = secrets.token_urlsafe(12)
    kind = random.randrange(4)
    if kind == 0:
        return f"/v1/blob/{token}?exp=1&sig=x"
    if kind == 1:
        return f"/v1/media/{token}"
    if kind == 2:
        return f"/v1/widget.{secrets.token_hex(8)}.js"
    return f"/soak/{token}"


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def unique_paths(port: int, rate: float, stop: float, counts: Counter[str]) -> None:
    """One keep-alive connection at ``rate`` requests a second."""
    interval = 1.0 / rate
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    next_at = time.monotonic()
    while time.monotonic() < stop:
        try:
            writer.write(f"GET {unique_path()} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
            counts[str(await read_response(reader))] += 1
        except (OSError, asyncio.IncompleteReadError):
            counts["reconnect"] += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    writer.close()


async def slow_head(port: int, kind: str, counts: Counter[str]) -> None:
    """One connection trickling a head: ``ok`` (just within both limits), ``late`` (past the
    timeout), ``big`` (past the size)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        counts[f"{kind}:connect-failed"] += 1
        return
    fields = MAX_FIELDS - 2 if kind != "big" else MAX_FIELDS * 3
    value = "v" * ((MAX_HEAD - 200) // (MAX_FIELDS - 1) - 12)
    lines = [f"GET {unique_path()} HTTP/1.1", "Host: soak"]
    lines += [f"X-Soak-{i}: {value}" for i in range(fields)]
    span = HEAD_TIMEOUT * (0.8 if kind == "ok" else 1.5)
    pause = span / len(lines)
    try:
        for line in lines:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()
            await asyncio.sleep(pause)
        writer.write(b"Connection: close\r\n\r\n")
        await writer.drain()
    except OSError:
        pass
    try:
        status = await asyncio.wait_for(read_response(reader), timeout=HEAD_TIMEOUT)
        counts[f"{kind}:{status}"] += 1
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        counts[f"{kind}:closed"] += 1
    writer.close()


async def slow_heads(port: int, stop: float, counts: Counter[str]) -> None:
    """Waves of slow heads, each wave holding more connections than the cap allows."""
    kinds = ["ok"] * 4 + ["late"] * 4 + ["big"]
    while time.monotonic() < stop - HEAD_TIMEOUT * 2:
        wave = [slow_head(port, kinds[i % len(kinds)], counts) for i in range(CAP + 64)]
        await asyncio.gather(*wave)


async def load(port: int, seconds: float, rate: float, counts: Counter[str]) -> None:
    stop = time.monotonic() + seconds
    walkers = 8
    await asyncio.gather(
        *(unique_paths(port, rate / walkers, stop, counts) for _ in range(walkers)),
        slow_heads(port, stop, counts),
    )


async def sample(pid: int, seconds: float, every: float, samples: list[tuple[float, int]]) -> None:
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        samples.append((round(elapsed, 1), rss_kib(pid)))
        await asyncio.sleep(every)
    samples.append((round(time.monotonic() - started, 1), rss_kib(pid)))


async def soak(port: int, pid: int, args: argparse.Namespace) -> dict[str, object]:
    counts: Counter[str] = Counter()
    samples: list[tuple[float, int]] = []
    await asyncio.gather(
        load(port, args.seconds, args.rate, counts), sample(pid, args.seconds, 5.0, samples)
    )
    base = next(kib for at, kib in samples if at >= args.warmup)
    after = [kib for at, kib in samples if at >= args.warmup]
    growth = max(after) / base - 1.0
    return {
        "seconds": args.seconds,
        "requests": sum(counts.values()),
        "answers": dict(sorted(counts.items())),
        "rss_kib_start": samples[0][1],
        "rss_kib_at_warmup": base,
        "rss_kib_max_after_warmup": max(after),
        "rss_kib_end": samples[-1][1],
        "growth_after_warmup": round(growth, 4),
        "ok": growth <= 0.10,
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--rate", type=float, default=400, help="unique-path requests a second")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="haechi-soak-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAECHI_")}
        env |= {
            "HAECHI_DATA_DIR": str(Path(tmp) / "data"),
            "HAECHI_LOG__ACCESS": "false",
            "HAECHI_LOG__LEVEL": "WARNING",
            "HAECHI_POOLS__STARTER": "false",
            "HAECHI_SERVER__HEADER_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
            "HAECHI_SERVER__MAX_HEADER_BYTES": str(MAX_HEAD),
            "HAECHI_SERVER__MAX_HEADER_FIELDS": str(MAX_FIELDS),
            "HAECHI_SERVER__MAX_CONNECTIONS": str(CAP),
        }
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(  # noqa: S603
            [HAECHI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        print((Path(tmp) / "serve.log").read_text(), file=sys.stderr)
                        return 2
                    time.sleep(0.5)
            time.sleep(2)
            result = asyncio.run(soak(port, proc.pid, args))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=1))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
