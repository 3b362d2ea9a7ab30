"""An API test driver for /api: a client that signs up, reads mailed links, signs in and calls
endpoints, checking every answer's shape (never a 5xx; errors are problem+json)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.platform.email.models import Mail
from haechi.runtime import Runtime
from tests.factories import PASSWORD

LINK = re.compile(r"https?://\S+?\?token=([A-Za-z0-9_\-]+)")


def token_from(text: str) -> str:
    found = LINK.search(text)
    assert found is not None, f"no link in {text!r}"
    return found.group(1)


@dataclass
class Api:
    runtime: Runtime
    http: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """A session for arranging data; committed when the block ends."""
        async with self.runtime.sessions() as session:
            yield session
            await session.commit()

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        reply = await self.http.request(method, "/api/v1" + path, headers=headers, **kwargs)
        assert reply.status_code < 500, f"{method} {path}: {reply.status_code} {reply.text}"
        if reply.status_code >= 400:
            assert reply.headers["content-type"].startswith("application/problem+json"), reply.text
            body = reply.json()
            assert body["status"] == reply.status_code and body["code"], body
        return reply

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = await self.call(method, path, **kwargs)
        assert reply.status_code < 300, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.content else None

    async def last_mail(self, to: str, template: str) -> Mail:
        async with self.runtime.sessions() as session:
            mail = await session.scalar(
                sa.select(Mail)
                .where(Mail.to_address == to, Mail.template == template)
                .order_by(Mail.created_at.desc())
                .limit(1)
            )
        assert mail is not None, f"no {template} mail to {to}"
        return mail

    async def signup(self, email: str, password: str = PASSWORD, **fields: Any) -> dict[str, Any]:
        body = {"email": email, "password": password, **fields}
        created: dict[str, Any] = await self.ok("POST", "/accounts", json=body)
        return created

    async def verify(self, email: str) -> None:
        mail = await self.last_mail(email, "verify-email")
        await self.ok("POST", "/accounts/verify-email", json={"token": token_from(mail.text_body)})

    async def login(self, email: str, password: str = PASSWORD) -> str:
        body = await self.ok("POST", "/auth/login", json={"email": email, "password": password})
        token: str = body["access_token"]
        return token

    async def user(self, email: str, password: str = PASSWORD) -> str:
        """Sign up, verify from the outbox, sign in: the access token."""
        await self.signup(email, password)
        await self.verify(email)
        return await self.login(email, password)
