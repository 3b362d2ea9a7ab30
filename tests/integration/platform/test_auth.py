"""Sign-in, refresh rotation, reuse detection, sign-out everywhere, rate limits, CSRF."""

from __future__ import annotations

import asyncio

import pytest

from haechi.core.errors import RateLimited, Unauthorized
from haechi.platform.auth import service as auth_service
from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration
CSRF = {"x-haechi-csrf": "1"}


async def test_login_sets_a_strict_refresh_cookie(api: Api) -> None:
    await api.user("cookie@example.com")
    reply = await api.call(
        "POST", "/auth/login", json={"email": "cookie@example.com", "password": factories.PASSWORD}
    )
    cookie = reply.headers["set-cookie"].lower()
    for part in ("haechi_refresh=hrt_", "httponly", "samesite=strict", "path=/api/v1/auth"):
        assert part in cookie, cookie
    assert "hrt_" not in reply.text  # the refresh token is never in the body


async def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    await api.user("rotate@example.com")
    await api.login("rotate@example.com")
    first = api.http.cookies["haechi_refresh"]
    refreshed = await api.ok("POST", "/auth/refresh", headers=CSRF)
    second = api.http.cookies["haechi_refresh"]
    assert second != first and refreshed["access_token"]
    # within the grace period the old token gets an access token but no new cookie
    api.http.cookies.set("haechi_refresh", first, path="/api/v1/auth")
    racing = await api.call("POST", "/auth/refresh", headers=CSRF)
    assert racing.status_code == 200 and "set-cookie" not in racing.headers
    # after the grace period, reusing it revokes the whole session
    api.runtime.settings.platform.refresh_grace_seconds = 0.0
    try:
        api.http.cookies.set("haechi_refresh", first, path="/api/v1/auth")
        reused = await api.call("POST", "/auth/refresh", headers=CSRF)
        assert reused.status_code == 401 and reused.json()["code"] == "refresh-token-reused"
        api.http.cookies.set("haechi_refresh", second, path="/api/v1/auth")
        after = await api.call("POST", "/auth/refresh", headers=CSRF)
        assert after.status_code == 401 and after.json()["code"] == "session-ended"
        # and the access tokens of that session are denied
        me = await api.call("GET", "/me", token=refreshed["access_token"])
        assert me.status_code == 401
    finally:
        api.runtime.settings.platform.refresh_grace_seconds = 5.0


async def test_refresh_needs_the_csrf_header(api: Api) -> None:
    await api.user("csrf@example.com")
    reply = await api.call("POST", "/auth/refresh")
    assert reply.status_code == 403 and reply.json()["code"] == "csrf"


async def test_sessions_list_end_and_sign_out_everywhere(api: Api) -> None:
    await api.user("many@example.com")
    a = await api.login("many@example.com")
    b = await api.login("many@example.com")
    sessions = (await api.ok("GET", "/me/sessions", token=a))["data"]
    assert len(sessions) == 3 and sum(s["current"] for s in sessions) == 1
    assert {s["ip"] for s in sessions} == {"198.51.100.7"}
    b_id = next(
        s["id"] for s in (await api.ok("GET", "/me/sessions", token=b))["data"] if s["current"]
    )
    await api.ok("DELETE", f"/me/sessions/{b_id}", token=a)
    assert (await api.call("GET", "/me", token=b)).status_code == 401
    assert (await api.call("GET", "/me", token=a)).status_code == 200
    await api.ok("POST", "/auth/logout-all", token=a, headers=CSRF)
    assert (await api.call("GET", "/me", token=a)).status_code == 401
    fresh = await api.login("many@example.com")
    assert (await api.call("GET", "/me", token=fresh)).status_code == 200


async def test_logout_ends_this_session_only(api: Api) -> None:
    await api.user("out@example.com")
    a = await api.login("out@example.com")
    b = await api.login("out@example.com")
    await api.ok("POST", "/auth/logout", token=a, headers=CSRF)
    assert (await api.call("GET", "/me", token=a)).status_code == 401
    assert (await api.call("GET", "/me", token=b)).status_code == 200


async def test_unknown_and_wrong_answer_alike_and_failures_are_limited(api: Api) -> None:
    await api.user("target@example.com")
    unknown = await api.call(
        "POST", "/auth/login", json={"email": "ghost@example.com", "password": "whatever123"}
    )
    wrong = await api.call(
        "POST", "/auth/login", json={"email": "target@example.com", "password": "whatever123"}
    )
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["code"] == wrong.json()["code"] == "bad-credentials"
    assert unknown.json()["detail"] == wrong.json()["detail"]
    limit = api.runtime.settings.platform.login_per_account
    for _ in range(limit - 1):
        await api.call(
            "POST", "/auth/login", json={"email": "target@example.com", "password": "whatever123"}
        )
    locked = await api.call(
        "POST", "/auth/login", json={"email": "target@example.com", "password": factories.PASSWORD}
    )
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    # other accounts are not affected
    await api.user("bystander@example.com")


async def test_concurrent_guesses_cannot_outrun_the_sign_in_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many guesses in flight at once: no more than the limit reach the password check."""

    async def slow_wrong_password(db: object, *, email: str, password: str) -> None:
        await asyncio.sleep(0.01)  # the Argon2 work and the query, during which others arrive

    monkeypatch.setattr(auth_service.accounts, "authenticate", slow_wrong_password)
    runtime = api.runtime
    settings = runtime.settings.platform

    async def guess() -> str:
        try:
            await auth_service.login(
                None,  # type: ignore[arg-type]  # never reached: the password is wrong
                email="burst@example.com",
                password="wrong-guess-123",
                store=runtime.store,
                keyring=runtime.keyring,
                settings=settings,
                ip="203.0.113.9",
                user_agent="test",
            )
        except RateLimited:
            return "limited"
        except Unauthorized:
            return "checked"
        return "signed-in"

    answers = await asyncio.gather(*(guess() for _ in range(3 * settings.login_per_account)))
    assert answers.count("checked") <= settings.login_per_account
    assert set(answers) == {"checked", "limited"}


async def test_one_ipv6_64_shares_one_sign_in_budget(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failures from many addresses of one /64 (one subscriber) count as one IP's."""

    async def wrong_password(db: object, *, email: str, password: str) -> None:
        return None

    monkeypatch.setattr(auth_service.accounts, "authenticate", wrong_password)
    runtime = api.runtime
    settings = runtime.settings.platform
    answers: list[str] = []
    for n in range(settings.login_per_ip + 1):
        try:
            await auth_service.login(
                None,  # type: ignore[arg-type]  # never reached: the password is wrong
                email=f"spray{n}@example.com",
                password="wrong-guess-123",
                store=runtime.store,
                keyring=runtime.keyring,
                settings=settings,
                ip=f"2001:db8:1:2::{n + 1:x}",
                user_agent="test",
            )
        except RateLimited:
            answers.append("limited")
        except Unauthorized:
            answers.append("checked")
    assert answers.count("checked") == settings.login_per_ip and answers[-1] == "limited"


async def test_tampered_and_foreign_tokens_are_refused(api: Api) -> None:
    token = await api.user("jwt@example.com")
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-2]}AA"
    for bad in (forged, "not-a-token", "hak_" + "x" * 40):
        reply = await api.call("GET", "/me", token=bad)
        assert reply.status_code == 401
    assert (await api.call("GET", "/me")).status_code == 401
