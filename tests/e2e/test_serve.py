"""`haechi serve` as a real process on loopback, driven by curl, the CLI and the SDK."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from haechi.client import verify

from .server import HAECHI, Haechi, free_port

ROOT = Path(__file__).resolve().parents[2]
# Light work so the shell script's sha256sum loop stays quick.
LIGHT_POLICY = json.dumps([{"max_risk": 100, "pow_bits": 5, "pow_count": 2}])


SERVER_ENV = {
    "HAECHI_POLICY__BANDS": LIGHT_POLICY,
    "HAECHI_LOG__ACCESS": "true",
    # Short site cache, so a rotation made by another process is seen quickly.
    "HAECHI_PROTOCOL__SITE_CACHE_TTL_SECONDS": "0.5",
}


def solve(server: Haechi, sitekey: str, origin: str) -> subprocess.CompletedProcess[str]:
    return server.cli("solve", "--url", server.url, "--sitekey", sitekey, "--origin", origin)


def token_of(solved: subprocess.CompletedProcess[str]) -> str:
    assert solved.returncode == 0, solved.stderr
    return solved.stdout.strip().splitlines()[-1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Haechi]:
    srv = Haechi(tmp_path / "data", dict(SERVER_ENV))
    srv.start()
    yield srv
    srv.stop()


def test_demo_site_curl_flow_and_restart(server: Haechi) -> None:
    demo_file = server.data_dir / "demo-site.json"
    assert demo_file.stat().st_mode & 0o777 == 0o600
    demo = json.loads(demo_file.read_text())
    if shutil.which("curl") is None or shutil.which("sha256sum") is None:
        pytest.fail("curl and sha256sum are needed for the curl flow")
    result = subprocess.run(
        [
            "bash",
            str(ROOT / "docs/examples/curl-flow.sh"),
            server.url,
            demo["sitekey"],
            demo["secret"],
            "http://localhost:8080",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    first, second = (json.loads(line) for line in result.stdout.strip().splitlines())
    assert first["success"] is True and first["hostname"] == "localhost", first
    assert second == {"success": False, "error-codes": ["timeout-or-duplicate"], "messages": []}

    # After a restart the demo secret (kept in the data directory) still verifies.
    server.stop()
    server.start()
    assert json.loads(demo_file.read_text()) == demo
    token = token_of(solve(server, demo["sitekey"], "http://localhost"))
    assert verify(secret=demo["secret"], response=token, url=server.url).success
    log = server.log.read_text()
    assert demo["secret"] not in log
    assert '"request_id"' in log and '"route": "/v1/solve"' in log.replace('":"', '": "')


def test_cli_sites_and_rotation_against_a_live_server(server: Haechi) -> None:
    created = server.cli(
        "sites",
        "create",
        "--name",
        "Shop",
        "--hostname",
        "shop.example.com",
        "--hostname",
        "*.example.org",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    site = json.loads(created.stdout)
    assert set(site) >= {"sitekey", "secret"}
    listed = json.loads(server.cli("sites", "list", "--json").stdout)
    assert site["sitekey"] in {s["sitekey"] for s in listed["data"]}
    assert "secret" not in json.dumps(listed).replace('"secret_', "")

    token = token_of(solve(server, site["sitekey"], "https://a.example.org"))
    rotated = json.loads(server.cli("sites", "rotate-secret", site["sitekey"], "--json").stdout)
    assert rotated["secret"] != site["secret"] and rotated["previous_secret_valid_until"]
    # The old secret keeps working inside the grace period, once the server has reloaded the site.
    time.sleep(1.0)
    assert verify(secret=site["secret"], response=token, url=server.url).success
    token2 = token_of(solve(server, site["sitekey"], "https://shop.example.com"))
    assert verify(secret=rotated["secret"], response=token2, url=server.url).success

    wrong = solve(server, site["sitekey"], "https://evil.example.net")
    assert wrong.returncode != 0 and "invalid-hostname" in wrong.stderr
    bad = server.cli("sites", "create", "--name", "x", "--hostname", "http://bad/")
    assert bad.returncode != 0 and "hostname" in bad.stderr.lower()
    missing = server.cli("sites", "rotate-secret", "hk_nope")
    assert missing.returncode != 0 and "no site" in missing.stderr


def test_serve_refuses_several_workers_with_the_memory_store(tmp_path: Path) -> None:
    proc = subprocess.run(
        [HAECHI, "serve", "--workers", "2", "--port", str(free_port())],
        env=Haechi(tmp_path, dict(SERVER_ENV)).environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode != 0 and "in-process store" in proc.stderr


def test_granian_serves_the_same_app(tmp_path: Path) -> None:
    """`haechi serve --server granian`: the whole flow, the client's address in the access log,
    and a clean stop on SIGINT. (Granian always sends `server: granian`, without a version.)"""
    srv = Haechi(tmp_path / "data", dict(SERVER_ENV), serve_args=["--server", "granian"])
    srv.start()
    try:
        demo = srv.demo
        token = token_of(solve(srv, demo["sitekey"], "http://localhost"))
        assert verify(secret=demo["secret"], response=token, url=srv.url).success
        health = httpx.get(f"{srv.url}/healthz", timeout=5)
        assert health.status_code == 200 and health.headers.get("server") in (None, "granian")
        wrong = httpx.post(
            f"{srv.url}/v1/challenge",
            content=b"{",
            headers={"content-type": "application/json"},
            timeout=5,
        )
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "bad-request"
    finally:
        srv.stop()
    assert srv.proc is not None and srv.proc.returncode == 0, srv.log.read_text()
    lines = srv.log.read_text().splitlines()
    access = [json.loads(line) for line in lines if '"haechi.access"' in line]
    assert any(a["route"] == "/healthz" and a["ip"] == "127.0.0.1" for a in access), lines
