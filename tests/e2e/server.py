"""`haechi serve` as a real process on loopback, shared by the end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HAECHI = str(Path(sys.executable).parent / "haechi")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Haechi:
    """One server with its own data directory and environment (``HAECHI_*`` from the caller's
    environment are dropped so a developer's settings never leak in)."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # More `haechi serve` options, e.g. ["--server", "granian"].
    serve_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"serve-{self.port}.log"

    @property
    def demo(self) -> dict[str, str]:
        data: dict[str, str] = json.loads((self.data_dir / "demo-site.json").read_text())
        return data

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAECHI_")}
        # Starter pools cost a minute of CPU per server; tests that want them set it back.
        env.update(HAECHI_DATA_DIR=str(self.data_dir), HAECHI_POOLS__STARTER="false")
        env.update(self.env)
        return env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [HAECHI, "serve", "--port", str(self.port), *self.serve_args],
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 180  # the loaded shared 2-core machine took 30-90+ s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("haechi serve did not become ready:\n" + self.log.read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HAECHI, *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
