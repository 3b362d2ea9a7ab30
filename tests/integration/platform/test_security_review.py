"""Findings of the security review, each with the test that shows it fixed: turning two-factor
sign-in on needs the password (or a fresh sign-in); a password change ends the account's other
sessions and their access tokens at once (and a reset ends all of them)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa

from haechi.core.db import utcnow
from haechi.platform.auth.models import AuthSession
from tests import factories
from tests.integration.platform.driver import Api, token_from

pytestmark = pytest.mark.integration


async def _age_sessions(api: Api, minutes: int) -> None:
    async with api.db() as db:
        await db.execute(
            sa.update(AuthSession).values(created_at=utcnow() - timedelta(minutes=minutes))
        )


async def test_enabling_two_factor_needs_the_password_or_a_fresh_sign_in(api: Api) -> None:
    token = await api.user("2fa-reauth@example.com")
    await _age_sessions(api, 10)  # signed in ten minutes ago: a stolen token, perhaps
    device = pyotp.TOTP((await api.ok("POST", "/me/totp", token=token))["secret"])
    bare = await api.call("POST", "/me/totp/confirm", token=token, json={"code": device.now()})
    assert bare.status_code == 401 and bare.json()["code"] == "reauth-required"
    wrong = await api.call(
        "POST",
        "/me/totp/confirm",
        token=token,
        json={"code": device.now(), "current_password": "not the password!"},
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "wrong-password"
    assert not (await api.ok("GET", "/me", token=token))["two_factor"]
    await api.ok(
        "POST",
        "/me/totp/confirm",
        token=token,
        json={"code": device.now(), "current_password": factories.PASSWORD},
    )
    assert (await api.ok("GET", "/me", token=token))["two_factor"]


async def test_a_password_change_ends_the_other_sessions(api: Api) -> None:
    email = "two-devices@example.com"
    here = await api.user(email)
    there = await api.login(email)
    third = await api.login(email)
    for token in (here, there, third):
        assert (await api.call("GET", "/me", token=token)).status_code == 200
    await api.ok(
        "POST",
        "/me/password",
        token=here,
        json={"current_password": factories.PASSWORD, "new_password": "an even longer passphrase"},
    )
    # this session goes on; the others' access tokens stop at once (the store's denylist)
    assert (await api.call("GET", "/me", token=here)).status_code == 200
    for token in (there, third):
        ended = await api.call("GET", "/me", token=token)
        assert ended.status_code == 401 and ended.json()["code"] == "session-ended"
    async with api.db() as db:
        sessions = (await db.scalars(sa.select(AuthSession))).all()
    mine = [s for s in sessions if s.revoked_at is None]
    assert len(mine) == 1  # and with them their refresh-token families
    audit = await api.ok("GET", "/me/sessions", token=here)
    assert len(audit["data"]) == 1
    # the old password is gone, the new one signs in
    old = await api.call(
        "POST", "/auth/login", json={"email": email, "password": factories.PASSWORD}
    )
    assert old.status_code == 401
    await api.login(email, "an even longer passphrase")


async def test_a_password_reset_ends_every_session(api: Api) -> None:
    email = "forgot@example.com"
    first = await api.user(email)
    second = await api.login(email)
    await api.call("POST", "/accounts/password-reset", json={"email": email})
    mail = await api.last_mail(email, "reset-password")
    await api.ok(
        "POST",
        "/accounts/password-reset/confirm",
        json={"token": token_from(mail.text_body), "password": "a brand new passphrase"},
    )
    for token in (first, second):
        ended = await api.call("GET", "/me", token=token)
        assert ended.status_code == 401 and ended.json()["code"] == "session-ended"


async def _lose_the_store(api: Api) -> None:
    """What a Redis restart without persistence or an embedded crash does: a store with none
    of the old state and a new epoch."""
    from haechi.core.store.memory import MemoryStore

    old = api.runtime.store
    if isinstance(old, MemoryStore):
        api.runtime.store = MemoryStore()
    else:
        await old.flush_prefix()  # type: ignore[attr-defined]
        await old.sync_epoch()
    assert api.runtime.store.epoch != "?"


async def test_a_lost_store_revokes_nothing_back_to_life(api: Api) -> None:
    """The denylist lives in the store: after a loss, access tokens issued before it stop
    working (signed-out ones included), and a TOTP code used before it cannot be used again."""
    email = "epoch@example.com"
    signed_out = await api.user(email)
    await api.ok("POST", "/auth/logout-all", token=signed_out, headers={"x-haechi-csrf": "1"})
    assert (await api.call("GET", "/me", token=signed_out)).status_code == 401
    kept = await api.login(email)
    device = pyotp.TOTP((await api.ok("POST", "/me/totp", token=kept))["secret"])
    code = device.now()
    await api.ok("POST", "/me/totp/confirm", token=kept, json={"code": code})
    await _lose_the_store(api)
    for token in (signed_out, kept):
        refused = await api.call("GET", "/me", token=token)
        assert refused.status_code == 401 and refused.json()["code"] == "session-ended"
    # the code spent before the loss stays spent (SQL keeps the last step)
    replay = await api.call(
        "POST", "/auth/login", json={"email": email, "password": factories.PASSWORD, "otp": code}
    )
    assert replay.status_code == 401 and replay.json()["code"] == "bad-otp"
    # signing in again works, with the next code, under the new epoch
    fresh = await api.call(
        "POST",
        "/auth/login",
        json={"email": email, "password": factories.PASSWORD, "otp": device.at(time.time() + 30)},
    )
    assert fresh.status_code == 200, fresh.text
    assert (await api.call("GET", "/me", token=fresh.json()["access_token"])).status_code == 200


class _Enqueued:
    """A job runner that only records what was enqueued."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def enqueue(self, name: str, /, **kwargs: Any) -> str:
        self.calls.append((name, kwargs))
        return str(len(self.calls))


async def test_a_reset_request_does_the_same_work_for_known_and_unknown_addresses(
    api: Api,
) -> None:
    """The request only enqueues a job, whoever asks: the same SQL statements and store calls
    for an existing and a missing account (the timing is measured in bench/platform/reset.py)."""
    from haechi.core.jobs import JobContext
    from haechi.platform.accounts.jobs import REQUEST_RESET, request_password_reset
    from haechi.platform.email.models import Mail

    known, unknown = "known-reset@example.com", "nobody-here@example.com"
    await api.user(known)
    runner = _Enqueued()
    engine = api.runtime.sessions.kw["bind"].sync_connection.engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]).split()[0])

    sa.event.listen(engine, "before_cursor_execute", count)
    api.runtime.jobs = runner  # type: ignore[assignment]
    seen: list[list[str]] = []
    try:
        for email in (known, unknown, known, unknown):
            statements.clear()
            await api.ok("POST", "/accounts/password-reset", json={"email": email})
            seen.append(list(statements))
    finally:
        api.runtime.jobs = None
        sa.event.remove(engine, "before_cursor_execute", count)
    assert seen[0] == seen[1] and seen[2] == seen[3], seen
    assert runner.calls == [(REQUEST_RESET, {"email": e}) for e in (known, unknown) * 2]
    async with api.db() as db:
        mailed = (await db.scalars(sa.select(Mail).where(Mail.template == "reset-password"))).all()
    assert mailed == []  # nothing looked up, nothing mailed in the request
    # the job does the work: a link for the account, nothing for the stranger
    context = JobContext(settings=api.runtime.settings, resources=api.runtime.resources())
    for email in (known, unknown):
        assert await request_password_reset(context, email=email) == "done"
    async with api.db() as db:
        mailed = (await db.scalars(sa.select(Mail).where(Mail.template == "reset-password"))).all()
    assert [m.to_address for m in mailed] == [known]
