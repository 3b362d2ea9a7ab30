"""Two `haechi serve --role platform` processes on one PostgreSQL and one Redis (replicas sharing
keys): revocation made on one process holds on the other at its very next request — "sign out
everywhere" stops a stolen access token, and reusing a rotated refresh token ends the whole
family, on both. (tests/integration/platform/test_replicas.py does the same with two apps in one
process; this one has nothing shared but the database and the store.)"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from haechi.core.store.redis import RedisStore
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    _create_database,
    _drop_database,
    unavailable,
    unique,
)
from tests.e2e.server import Haechi

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple 42"
CSRF = {"x-haechi-csrf": "1"}


async def _redis_ok() -> bool:
    store = RedisStore.from_url(REDIS_URL, key_prefix="probe:")
    try:
        return await store.ping()
    finally:
        await store.close()


async def _clean(prefix: str, database: str) -> None:
    store = RedisStore.from_url(REDIS_URL, key_prefix=prefix)
    try:
        await store.flush_prefix()
    finally:
        await store.close()
    await _drop_database(POSTGRES_URL, database)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Haechi, Haechi]]:
    name = unique("haechi_procs")
    try:
        url = asyncio.run(_create_database(POSTGRES_URL, name))
    except Exception as error:
        unavailable("postgres", error)
    if not asyncio.run(_redis_ok()):
        unavailable("Redis", ConnectionError(REDIS_URL))
    prefix = unique("haechi_procs") + ":"
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    env = {
        "HAECHI_ENV": "test",
        "HAECHI_ROLE": "platform",
        "HAECHI_DB__URL": url,
        "HAECHI_STORE__URL": REDIS_URL,
        "HAECHI_STORE__KEY_PREFIX": prefix,
        "HAECHI_KEYS__KEYRING": f'{{"k1": "{secret}"}}',
        "HAECHI_KEYS__ACTIVE": "k1",
        "HAECHI_KEYS__SECRET_PEPPER": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "HAECHI_PLATFORM__SECURE_COOKIES": "false",
        "HAECHI_PLATFORM__REFRESH_GRACE_SECONDS": "0",
        "HAECHI_PLATFORM__ARGON2_TIME_COST": "1",
        "HAECHI_PLATFORM__ARGON2_MEMORY_KIB": "1024",
        "HAECHI_PLATFORM__ARGON2_PARALLELISM": "1",
    }
    root = tmp_path_factory.mktemp("replica-procs")
    servers = [Haechi(Path(root / f"r{i}" / "data"), dict(env)) for i in range(2)]
    try:
        servers[0].start()  # migrates first
        servers[1].start()
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        asyncio.run(_clean(prefix, name))


def _login(server: Haechi, email: str) -> tuple[str, str]:
    reply = httpx.post(
        f"{server.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"], reply.cookies["haechi_refresh"]


def _me(server: Haechi, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/me", headers={"authorization": f"Bearer {token}"})


def _refresh(server: Haechi, cookie: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/auth/refresh",
        headers=CSRF | {"cookie": f"haechi_refresh={cookie}"},
    )


def test_sign_out_everywhere_stops_a_stolen_token_on_the_other_process(
    replicas: tuple[Haechi, Haechi],
) -> None:
    a, b = replicas
    email = "stolen@example.com"
    signup = httpx.post(f"{a.url}/api/v1/accounts", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 201, signup.text
    stolen, _ = _login(a, email)
    mine, _ = _login(b, email)
    assert _me(a, stolen).status_code == 200 and _me(b, stolen).status_code == 200
    out = httpx.post(
        f"{b.url}/api/v1/auth/logout-all", headers=CSRF | {"authorization": f"Bearer {mine}"}
    )
    assert out.status_code == 204, out.text
    # The very next request on the other process (one store read) refuses it.
    refused = _me(a, stolen)
    assert refused.status_code == 401 and refused.json()["code"] == "session-ended"
    assert _me(b, stolen).status_code == 401
    # A new sign-in after that works on both.
    fresh, _ = _login(a, email)
    assert _me(b, fresh).status_code == 200


def test_refresh_reuse_on_one_process_ends_the_family_on_both(
    replicas: tuple[Haechi, Haechi],
) -> None:
    a, b = replicas
    email = "family@example.com"
    signup = httpx.post(f"{b.url}/api/v1/accounts", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 201, signup.text
    access, first = _login(a, email)
    rotated = _refresh(a, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.cookies["haechi_refresh"]
    new_access = rotated.json()["access_token"]
    # The thief replays the spent token on the other process: the whole family ends.
    reused = _refresh(b, first)
    assert reused.status_code == 401 and reused.json()["code"] == "refresh-token-reused"
    ended = _refresh(a, second)
    assert ended.status_code == 401 and ended.json()["code"] == "session-ended"
    for server in (a, b):
        for token in (access, new_access):
            reply = _me(server, token)
            assert reply.status_code == 401 and reply.json()["code"] == "session-ended"
