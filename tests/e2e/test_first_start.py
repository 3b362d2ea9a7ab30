"""The first `haechi serve` on a fresh data directory: what it prints, what it creates, and
the security level for tests driving a real server."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from haechi.client import verify
from tests.e2e.server import Haechi
from tests.e2e.test_serve import solve, token_of

# No starter-pool builds in the background: they only cost these tests CPU.
QUIET = {"HAECHI_POOLS__STARTER": "false"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_prints_the_demo_url_and_keeps_the_data_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as an older release, or a hand-made folder, left it
    srv = Haechi(data, dict(QUIET))
    srv.start()
    try:
        log = srv.log.read_text()
        # Where the demo is, and which challenge types are offered (or being built).
        assert f"demo: http://127.0.0.1:{srv.port}/demo" in log
        assert "challenge types offered:" in log
        # Alembic's seven "setup plugin ..." lines are gone; the migrations themselves still log.
        assert "setup plugin" not in log
        # Only the server's user may read the data directory and the database.
        assert mode(srv.data_dir) == 0o700
        assert mode(srv.data_dir / "haechi.db") == 0o600
        for name in ("keys.json", "demo-site.json"):
            assert mode(srv.data_dir / name) == 0o600
        for sidecar in srv.data_dir.glob("haechi.db-*"):  # SQLite's -wal and -shm
            assert mode(sidecar) & 0o077 == 0, sidecar

        # A site at the test level gives a real, single-use token to a script.
        created = srv.cli(
            *("sites", "create", "--name", "CI", "--hostname", "localhost"),
            *("--security-level", "test", "--json"),
        )
        assert created.returncode == 0, created.stderr
        site = json.loads(created.stdout.strip().splitlines()[-1])
        token = token_of(solve(srv, site["sitekey"], "http://localhost"))
        first = verify(secret=site["secret"], response=token, url=srv.url)
        assert first.success
        assert not verify(secret=site["secret"], response=token, url=srv.url).success
        listed = srv.cli("sites", "list")
        assert f"{site['sitekey']}  CI  localhost  test (proof-of-work only)" in listed.stdout
    finally:
        srv.stop()
