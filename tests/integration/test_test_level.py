"""Security level ``test``: proof-of-work only for tests and staging, refused in production.

Tokens stay single-use, sealed and bound to the site and hostname; only the plan changes: the
first band's proof-of-work, no visual task, no automation denial, whatever the risk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from haechi.cli import main
from haechi.core.crypto import new_key
from haechi.core.errors import Forbidden
from haechi.platform.sites import schemas
from haechi.platform.sites import service as site_service
from haechi.protocol import pow as pow_
from tests.integration.conftest import ORIGIN, Edge, embedded_edge

# A webdriver flag: at any other level a clear bot, denied at /v1/solve.
BOT = {
    "v": 1,
    "viewport": [1280, 720],
    "pointer": "mouse",
    "events": [],
    "hints": {"webdriver": True},
}


async def _solve_as_bot(edge: Edge, sitekey: str) -> dict[str, Any]:
    challenge = (await edge.challenge(sitekey, telemetry=BOT)).json()
    p = challenge["pow"]
    nonces = pow_.solve(pow_.PowParams(p["prefix"].split(":")[1], p["bits"], p["count"]))
    reply = await edge.http.post(
        "/v1/solve",
        json={"challenge": challenge["challenge"], "solution": {"pow": nonces}, "telemetry": BOT},
        headers={"origin": ORIGIN},
    )
    return {"challenge": challenge, "solve": reply.json()}


@pytest.fixture
async def test_edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async for edge in embedded_edge(tmp_path):
        yield edge


async def test_a_bot_gets_a_token_with_proof_of_work_alone(
    test_edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    site = await test_edge.create_site(security_level="test")
    caplog.set_level(logging.WARNING, logger="haechi.runtime")
    first = await _solve_as_bot(test_edge, site.sitekey)
    challenge = first["challenge"]
    assert challenge["task"] is None
    first_band = test_edge.runtime.settings.policy.bands[0]
    assert (challenge["pow"]["bits"], challenge["pow"]["count"]) == (
        first_band.pow_bits,
        first_band.pow_count,
    )
    assert first["solve"]["outcome"] == "token", first["solve"]
    token = first["solve"]["token"]
    # Single use, bound to the secret, as at every level.
    verdict = await test_edge.verify(secret=site.secret, response=token)
    assert verdict["success"] is True and verdict["hostname"] == "shop.example.com"
    again = await test_edge.verify(secret=site.secret, response=token)
    assert again["success"] is False
    # The logs say which site runs at the test level.
    assert any(
        r.message.startswith(f"site {site.sitekey} is at security level test")
        for r in caplog.records
    )


async def test_the_test_level_still_checks_the_hostname_and_the_work(test_edge: Edge) -> None:
    site = await test_edge.create_site(security_level="test")
    wrong = await test_edge.challenge(site.sitekey, origin="https://evil.example.net")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid-hostname"
    challenge = (await test_edge.challenge(site.sitekey)).json()
    lazy = await test_edge.solve(challenge, pow=["0"] * challenge["pow"]["count"])
    assert lazy.json()["outcome"] == "fail"


async def test_a_medium_site_denies_the_same_bot(test_edge: Edge) -> None:
    """The control for the first test: without the test level this bot gets no token."""
    site = await test_edge.create_site(security_level="medium")
    assert (await _solve_as_bot(test_edge, site.sitekey))["solve"]["outcome"] == "fail"


def _production(**policy: Any) -> dict[str, Any]:
    return {
        "env": "production",
        "keys": {"keyring": {"k1": new_key()}, "active": "k1", "secret_pepper": new_key()},
        "policy": {**policy},
    }


async def test_production_refuses_to_create_a_test_site(tmp_path: Path) -> None:
    async for edge in embedded_edge(tmp_path, **_production()):
        with pytest.raises(Forbidden) as refused:
            await edge.create_site(security_level="test")
        assert refused.value.code == "test-level-refused"
        assert "HAECHI_POLICY__ALLOW_TEST_LEVEL" in refused.value.message
        # ... and updating a site to it.
        site = await edge.create_site()
        async with edge.runtime.sessions() as session:
            row = await site_service.get_by_sitekey(session, sitekey=site.sitekey)
            assert row is not None
            with pytest.raises(Forbidden):
                await site_service.update(
                    session, site=row, data=schemas.SiteUpdate(security_level="test")
                )


async def test_production_serves_a_test_site_as_medium(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A test-level site that reached a production database (say, a copied staging database)
    gets the usual friction: the bot is denied, and the logs say why."""
    caplog.set_level(logging.WARNING, logger="haechi.runtime")
    async for edge in embedded_edge(tmp_path, **_production()):
        site = await edge.create_site()
        await edge.set_security_level(site.sitekey, "test")
        assert (await _solve_as_bot(edge, site.sitekey))["solve"]["outcome"] == "fail"
        assert any("refused in production" in r.message for r in caplog.records)


async def test_production_allows_the_test_level_when_told(tmp_path: Path) -> None:
    async for edge in embedded_edge(tmp_path, **_production(allow_test_level=True)):
        site = await edge.create_site(security_level="test")
        assert (await _solve_as_bot(edge, site.sitekey))["solve"]["outcome"] == "token"


def test_the_cli_creates_and_lists_a_test_site(tmp_path: Path) -> None:
    env = {"HAECHI_DATA_DIR": str(tmp_path / "data"), "HAECHI_LOG__ACCESS": "false"}
    runner = CliRunner()
    created = runner.invoke(
        main,
        [
            "sites",
            "create",
            "--name",
            "Staging",
            "--hostname",
            "staging.example.com",
            "--security-level",
            "test",
            "--json",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    site = json.loads(created.stdout.strip().splitlines()[-1])
    assert site["security_level"] == "test"
    listed = runner.invoke(main, ["sites", "list", "--json"], env=env)
    assert [s["security_level"] for s in json.loads(listed.stdout)["data"]] == ["test"]
    plain = runner.invoke(main, ["sites", "list"], env=env)
    assert "test (proof-of-work only)" in plain.stdout

    refused = runner.invoke(
        main,
        [
            *("sites", "create", "--name", "Live", "--hostname", "live.example.com"),
            "--security-level",
            "test",
        ],
        env={
            **env,
            "HAECHI_ENV": "production",
            "HAECHI_KEYS__KEYRING": json.dumps({"k1": new_key()}),
            "HAECHI_KEYS__ACTIVE": "k1",
            "HAECHI_KEYS__SECRET_PEPPER": new_key(),
        },
    )
    assert refused.exit_code != 0
    assert "refused when HAECHI_ENV=production" in refused.output
