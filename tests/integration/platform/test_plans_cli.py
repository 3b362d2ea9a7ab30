"""``haechi plans``: custom plans, assignment (audited) and an organisation's month, with plans
on; a settings plan's key is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from haechi.cli import main
from tests.integration.platform.test_cli import run

pytestmark = pytest.mark.integration


def test_plans_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAECHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAECHI_PLATFORM__ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("HAECHI_NEW_PASSWORD", "a fine long passphrase")
    monkeypatch.setenv("HAECHI_PLANS__ENABLED", "true")
    runner = CliRunner()
    run(runner, "users", "create", "--email", "owner@example.com", "--json")
    org = run(runner, "orgs", "create", "--name", "Acme", "--owner", "owner@example.com", "--json")
    listed = run(runner, "plans", "list", "--json")
    assert listed["enabled"] is True and listed["data"][0]["key"] == "free"
    saved = run(runner, "plans", "save", "gov", "--name", "Gov", "--quota", "50", "--json")
    assert saved["custom"] is True and saved["monthly_quota"] == 50 and saved["max_sites"] is None
    taken = runner.invoke(main, ["plans", "save", "free", "--name", "Mine"])
    assert taken.exit_code != 0 and "plan-key-taken" in taken.output
    assert run(runner, "plans", "assign", org["id"], "gov", "--json") == {
        "org": org["id"],
        "plan": "gov",
    }
    shown = run(runner, "plans", "show", org["id"], "--json")
    assert shown == {"plan": "gov", "assigned": "gov", "used": 0, "quota": 50, "state": "ok"}
    in_use = runner.invoke(main, ["plans", "delete", "gov"])
    assert in_use.exit_code != 0 and "plan-in-use" in in_use.output
