# ruff: noqa: S603, S607
"""Fault: the file blob store's disk fills up (`make fault-blobs`; needs root for the mount).

    python bench/cluster/blobfull.py [--size-mb 4] [--record]

A small tmpfs holds the `fs` blob store of a `haechi serve` (embedded defaults otherwise), with
node_exporter and Prometheus evaluating deploy/prometheus/alerts.yml, as in `make cluster`:

1. a grid pool is built (generation A) and served; the bytes of every file are hashed;
2. a filler file takes the disk to under 10 % free: `HaechiBlobDiskFilling` must fire;
3. a second pool build runs out of space: it must fail with a clear error, leave A current and
   byte-for-byte intact, leave no partial file behind, and the server must keep serving;
4. the filler is removed: the next build succeeds and becomes current.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.cluster.run import ALERTS, BIN, Proc, free_port, log, wait_http, which

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "RESULTS.md"


def haechi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "haechi"), *args], env=env, capture_output=True, text=True)


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (the blob store), by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def current_generation(env: dict[str, str]) -> tuple[str | None, int]:
    out = haechi(env, "challenges", "list-pools", "--json")
    pools = {p["name"]: p for p in json.loads(out.stdout)["data"]}
    return pools["grid"]["current"], pools["grid"]["items"]


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def run(size_mb: int, work: Path) -> tuple[list[str], bool]:
    blobs = work / "blobs"
    blobs.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(blobs)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        raise SystemExit(f"cannot mount a tmpfs (run as root): {mounted.stderr.strip()}")
    procs: list[Proc] = []
    rows: list[str] = []
    ok = True

    def check(name: str, passed: bool, detail: str) -> None:
        nonlocal ok
        ok = ok and passed
        rows.append(f"| {name} | {'yes' if passed else '**no**'} | {detail} |")
        log(f"{name}: {'ok' if passed else 'FAILED'} ({detail})")

    try:
        env = dict(
            os.environ,
            HAECHI_DATA_DIR=str(work / "data"),
            HAECHI_BLOBS__BACKEND="fs",
            HAECHI_BLOBS__PATH=str(blobs),
            HAECHI_POOLS__REFRESH_SECONDS="2",
        )
        built = haechi(env, "challenges", "build-pool", "--type", "grid", "--count", "60")
        built.check_returncode()
        generation_a, items = current_generation(env)
        before = snapshot(blobs)
        check(
            "pool A built and current",
            generation_a is not None and items == 60,
            f"{items} items, {sum(1 for _ in before)} files, {free_bytes(blobs) // 1024} KiB free "
            f"of {size_mb * 1024}",
        )

        logs = work / "logs"
        logs.mkdir()
        ports = {name: free_port() for name in ("edge", "node", "prometheus")}
        procs.append(
            Proc(
                "edge",
                [str(BIN / "haechi"), "serve", "--host", "127.0.0.1", "--port", str(ports["edge"])],
                env,
            ).start(logs)
        )
        procs.append(
            Proc(
                "node_exporter",
                [
                    which("prometheus-node-exporter", "/usr/bin/prometheus-node-exporter"),
                    f"--web.listen-address=127.0.0.1:{ports['node']}",
                    "--collector.disable-defaults",
                    "--collector.filesystem",
                    "--collector.filesystem.mount-points-exclude=^/(dev|proc|run|sys)($|/)",
                ],
            ).start(logs)
        )
        config = work / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
                    "rule_files": [str(ALERTS)],
                    "scrape_configs": [
                        {
                            "job_name": "node",
                            "static_configs": [{"targets": [f"127.0.0.1:{ports['node']}"]}],
                            # The blob volume is labelled as the manifests' node_exporter does.
                            "metric_relabel_configs": [
                                {
                                    "source_labels": ["mountpoint"],
                                    "regex": str(blobs),
                                    "target_label": "haechi_volume",
                                    "replacement": "blobs",
                                }
                            ],
                        }
                    ],
                }
            )
        )
        procs.append(
            Proc(
                "prometheus",
                [
                    which("prometheus", "/usr/bin/prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                ],
            ).start(logs)
        )
        edge = f"http://127.0.0.1:{ports['edge']}"
        wait_http(f"{edge}/readyz", timeout=120)
        wait_http(f"http://127.0.0.1:{ports['prometheus']}/-/ready")

        filler = blobs / "filler"
        target_free = size_mb * 1024 * 1024 // 20  # 5 % free: under the alert's 10 %
        with filler.open("wb") as handle:
            handle.write(b"\0" * max(0, free_bytes(blobs) - target_free))
        filled_at = time.monotonic()
        log(f"filled: {free_bytes(blobs) // 1024} KiB free")

        started = time.monotonic()
        failed = haechi(env, "challenges", "build-pool", "--type", "grid", "--count", "60")
        message = (failed.stderr.strip().splitlines() or ["(nothing)"])[-1]
        check(
            "a build on a full disk fails with a clear error",
            failed.returncode != 0 and "space" in (failed.stderr + failed.stdout).lower(),
            f"exit {failed.returncode} after {time.monotonic() - started:.1f} s: `{message[:160]}`",
        )
        generation_now, items_now = current_generation(env)
        after = snapshot(blobs)
        kept = {k: v for k, v in after.items() if k in before}
        check(
            "pool A still current and byte-for-byte intact",
            generation_now == generation_a and kept == before and items_now == 60,
            f"current {generation_now}, {len(kept)} of {len(before)} files unchanged",
        )
        partial = [k for k in after if k.endswith(".tmp")]
        orphans = [k for k in after if k not in before and k != "filler"]
        check(
            "no partial file left",
            not partial,
            f"{len(partial)} temporary files; {len(orphans)} whole files of the failed generation",
        )
        challenge = httpx.post(
            f"{edge}/v1/challenge",
            json={"v": 1, "sitekey": demo_sitekey(work)},
            headers={"origin": "http://127.0.0.1"},
        )
        ready = httpx.get(f"{edge}/readyz")
        check(
            "the edge keeps serving",
            ready.status_code == 200 and challenge.status_code == 200,
            f"/readyz {ready.status_code}, /v1/challenge {challenge.status_code}",
        )

        fired_after = None
        deadline = filled_at + 150
        while time.monotonic() < deadline:
            if alert_state(ports["prometheus"], "HaechiBlobDiskFilling") == "firing":
                fired_after = time.monotonic() - filled_at
                break
            time.sleep(2)
        check(
            "HaechiBlobDiskFilling fired (for: 1m)",
            fired_after is not None,
            f"{fired_after:.0f} s after the disk filled" if fired_after else "not within 150 s",
        )

        filler.unlink()
        again = haechi(env, "challenges", "build-pool", "--type", "grid", "--count", "60")
        generation_b, items_b = current_generation(env)
        check(
            "space freed: the next build succeeds and is current",
            again.returncode == 0 and generation_b not in (None, generation_a) and items_b == 60,
            f"exit {again.returncode}, current {generation_b}",
        )
    finally:
        for proc in reversed(procs):
            proc.stop()
        subprocess.run(["umount", str(blobs)], check=False)
    return rows, ok


def demo_sitekey(work: Path) -> str:
    demo = json.loads((work / "data" / "demo-site.json").read_text())
    return str(demo["sitekey"])


def alert_state(port: int, name: str) -> str | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        body: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts").json()
        for alert in body["data"]["alerts"]:
            if alert["labels"]["alertname"] == name:
                return str(alert["state"])
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=4)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="haechi-blobfull-"))
    try:
        rows, ok = run(args.size_mb, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            f"## {now} — fault: the file blob store's disk fills (`bench/cluster/blobfull.py`) — "
            "issue 23",
            "",
            f"A {args.size_mb} MB tmpfs holds the `fs` blob store of `haechi serve`; node_exporter "
            "and Prometheus evaluate deploy/prometheus/alerts.yml. Command: "
            f"`python bench/cluster/blobfull.py --size-mb {args.size_mb}`.",
            "",
            "| check | held | detail |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )
    print(text)
    if args.record:
        body = RESULTS.read_text()
        head, sep, rest = body.partition("\n## ")
        RESULTS.write_text(head.rstrip("\n") + "\n\n" + text + "\n" + sep.lstrip("\n") + rest)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
