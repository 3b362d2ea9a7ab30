"""An edge + platform app on each store × database combination, driven over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from haechi.app import create_app
from haechi.core.settings import PlanBand, PolicySettings, RateLimitSettings, Settings
from haechi.platform.sites import schemas
from haechi.platform.sites import service as site_service
from haechi.protocol import pow as pow_
from haechi.risk.policy import allows_test_level
from haechi.runtime import Runtime

ORIGIN = "https://shop.example.com"


@dataclass
class Site:
    sitekey: str
    secret: str


@dataclass
class Edge:
    runtime: Runtime
    http: httpx.AsyncClient

    async def create_site(self, hostnames: list[str] | None = None, **fields: Any) -> Site:
        async with self.runtime.sessions() as session:
            org = await site_service.get_or_create_default_org(session)
            data = schemas.SiteCreate(
                name="Test shop", hostnames=hostnames or ["shop.example.com"], **fields
            )
            site, secret = await site_service.create(
                session,
                org=org,
                data=data,
                pepper=self.runtime.pepper,
                allow_test_level=allows_test_level(self.runtime.settings),
            )
            await session.commit()
            return Site(site.sitekey, secret)

    async def set_security_level(self, sitekey: str, level: str) -> None:
        async with self.runtime.sessions() as session:
            row = await site_service.get_by_sitekey(session, sitekey=sitekey)
            assert row is not None
            row.security_level = level
            await session.commit()
        await self.runtime.invalidate_site(sitekey)

    async def challenge(
        self, sitekey: str, origin: str | None = ORIGIN, **body: Any
    ) -> httpx.Response:
        headers = {"origin": origin} if origin else {}
        return await self.http.post(
            "/v1/challenge", json={"v": 1, "sitekey": sitekey, **body}, headers=headers
        )

    async def solve(
        self, challenge: dict[str, Any], origin: str | None = ORIGIN, **solution: Any
    ) -> httpx.Response:
        if "pow" not in solution:
            p = challenge["pow"]
            cid = p["prefix"].split(":")[1]
            solution["pow"] = pow_.solve(pow_.PowParams(cid, p["bits"], p["count"]))
        headers = {"origin": origin} if origin else {}
        return await self.http.post(
            "/v1/solve",
            json={"v": 1, "challenge": challenge["challenge"], "solution": solution},
            headers=headers,
        )

    async def token(self, sitekey: str, origin: str = ORIGIN, **body: Any) -> str:
        reply = await self.challenge(sitekey, origin, **body)
        assert reply.status_code == 200, reply.text
        outcome = (await self.solve(reply.json(), origin)).json()
        assert outcome["outcome"] == "token", outcome
        token: str = outcome["token"]
        return token

    async def verify(self, path: str = "/siteverify", **form: str) -> dict[str, Any]:
        reply = await self.http.post(path, data=form)
        assert reply.status_code < 500, reply.text
        body: dict[str, Any] = reply.json()
        return body


def edge_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "db": {"url": database_url},
        "rate_limit": RateLimitSettings(per_ip=10_000, per_sitekey=10_000),
        "log": {"access": False},
        # Light PoW keeps the suite fast; one band with a visual type for step-up tests.
        "policy": PolicySettings(
            bands=[
                PlanBand(max_risk=40, pow_bits=6, pow_count=2),
                PlanBand(max_risk=90, pow_bits=6, pow_count=2, challenges=["glyph"]),
                PlanBand(max_risk=100, pow_bits=6, pow_count=2, block=True),
            ],
            enabled_test_types=["glyph"],
        ),
    }
    base.update(overrides)
    return Settings(**base)


async def start_edge(settings: Settings, store: Any) -> AsyncIterator[Edge]:
    runtime = Runtime.build(settings, store=store)
    await runtime.start()
    app = create_app(settings, runtime=runtime)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as http:
        yield Edge(runtime, http)
    await runtime.close()


@pytest.fixture
async def edge(store: Any, database_url: str, tmp_path: Path) -> AsyncIterator[Edge]:
    """The protocol on every store (memory, Redis) × database (SQLite, PostgreSQL, MariaDB)."""
    async for e in start_edge(edge_settings(tmp_path, database_url), store):
        yield e


def embedded_edge(tmp_path: Path, **overrides: Any) -> AsyncIterator[Edge]:
    """An edge on embedded defaults (SQLite + memory) with some settings overridden."""
    from haechi.core.store.memory import MemoryStore

    url = f"sqlite+aiosqlite:///{tmp_path / 'embedded.db'}"
    return start_edge(edge_settings(tmp_path, url, **overrides), MemoryStore())


@pytest.fixture
async def quick_edge(tmp_path: Path) -> AsyncIterator[Edge]:
    """Embedded defaults only (SQLite + memory) for tests that are about HTTP, not backends."""
    async for e in embedded_edge(tmp_path):
        yield e
