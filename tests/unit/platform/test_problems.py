"""The platform's error shape when a dependency (the database) is down: 503, never 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from haechi.platform import problems


def app_raising(error: BaseException) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.post("/login")
    async def login() -> None:
        raise error

    return app


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, Exception("connection refused")),
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
    ],
)
async def test_a_database_outage_is_503_with_retry_after(error: BaseException) -> None:
    transport = httpx.ASGITransport(app=app_raising(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/login")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == problems.PROBLEM
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["code"] == "unavailable"


async def test_a_bug_is_still_500() -> None:
    transport = httpx.ASGITransport(app=app_raising(KeyError("x")), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/login")
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal"
