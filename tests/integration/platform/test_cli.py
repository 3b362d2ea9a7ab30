"""CLI parity: users, admin, orgs, api-keys and openapi over the same services, with --json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from haechi.cli import main

pytestmark = pytest.mark.integration


def run(runner: CliRunner, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_cli_parity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAECHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAECHI_PLATFORM__ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("HAECHI_NEW_PASSWORD", "a fine long passphrase")
    runner = CliRunner()
    user = run(runner, "users", "create", "--email", "Op@Example.com", "--json")
    assert user["email"] == "op@example.com" and user["email_verified"] and not user["is_operator"]
    assert run(runner, "admin", "grant", "op@example.com", "--json")["is_operator"]
    org = run(runner, "orgs", "create", "--name", "Acme", "--owner", "op@example.com", "--json")
    key = run(
        runner,
        "api-keys",
        "create",
        "--org",
        org["id"],
        "--name",
        "ci",
        "--scope",
        "read",
        "--json",
    )
    assert key["key"].startswith("hak_") and key["scopes"] == ["read"]
    listed = run(runner, "api-keys", "list", "--org", org["id"], "--json")
    assert [k["id"] for k in listed["data"]] == [key["id"]] and "key" not in listed["data"][0]
    assert run(runner, "api-keys", "revoke", "--org", org["id"], key["id"], "--json")["revoked_at"]
    assert run(runner, "orgs", "suspend", org["id"], "--json")["suspended_at"]
    assert run(runner, "orgs", "list", "--search", "acme", "--json")["data"][0]["suspended_at"]
    assert run(runner, "orgs", "unsuspend", org["id"], "--json")["suspended_at"] is None
    assert run(runner, "users", "list", "--json")["data"][0]["is_operator"]
    assert run(runner, "admin", "mail", "list", "--json") == {"data": []}
    credit = run(runner, "billing", "grant-credit", org["id"], "--amount", "5000", "--reason",
                 "goodwill", "--json")  # fmt: skip
    assert credit["balance"] == 5_000
    assert run(runner, "billing", "credits", org["id"], "--json")["balance"] == 5_000
    below = runner.invoke(main, ["billing", "grant-credit", org["id"], "--amount", "-6000",
                                 "--reason", "typo"])  # fmt: skip
    assert below.exit_code != 0 and "credit-below-zero" in below.output
    missing = runner.invoke(main, ["admin", "grant", "nobody@example.com"])
    assert missing.exit_code != 0 and "no account" in missing.output
    # the sites command keeps working beside them
    sites = runner.invoke(main, ["sites", "list", "--json"])
    assert sites.exit_code == 0, sites.output


def test_openapi_document(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["openapi", "--output", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["openapi"].startswith("3.1")
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for item in doc["paths"].values():
        for op in item.values():
            tag = op["tags"][0]
            assert re.fullmatch(rf"{tag}_[a-z_]+", op["operationId"]), (tag, op["operationId"])
            assert "Problem" in json.dumps(op["responses"]["404"]), op["operationId"]
    assert "Problem" in doc["components"]["schemas"]
