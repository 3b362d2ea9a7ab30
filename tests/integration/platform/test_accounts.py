"""Accounts over HTTP: sign-up, verification, reset, change of e-mail, deletion."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from haechi.platform.accounts import service
from haechi.platform.email.models import Mail
from tests import factories
from tests.integration.platform.driver import Api, token_from

pytestmark = pytest.mark.integration


async def test_signup_verify_login(api: Api) -> None:
    user = await api.signup("Ada@Example.com", locale="ko")
    assert user["email"] == "ada@example.com" and not user["email_verified"]
    mail = await api.last_mail("ada@example.com", "verify-email")
    assert (
        "이메일" in mail.subject
        and "https://dash.example.com/verify-email?token=" in mail.text_body
    )
    token = token_from(mail.text_body)
    verified = await api.ok("POST", "/accounts/verify-email", json={"token": token})
    assert verified["email_verified"]
    # single use
    again = await api.call("POST", "/accounts/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["code"] == "invalid-link"
    access = await api.login("ada@example.com")
    me = await api.ok("GET", "/me", token=access)
    assert me["email"] == "ada@example.com" and me["locale"] == "ko"


@pytest.mark.parametrize(
    ("password", "reason"), [("short", "at least 10"), ("1234567890", "most common")]
)
async def test_weak_passwords_are_refused(api: Api, password: str, reason: str) -> None:
    reply = await api.call(
        "POST", "/accounts", json={"email": "a@example.com", "password": password}
    )
    assert reply.status_code == 400 and reply.json()["code"] == "weak-password"
    assert reason in reply.json()["detail"]


async def test_duplicate_and_invalid_signups(api: Api) -> None:
    await api.signup("dup@example.com")
    reply = await api.call(
        "POST", "/accounts", json={"email": "DUP@example.com", "password": factories.PASSWORD}
    )
    assert reply.status_code == 409 and reply.json()["code"] == "email-taken"
    bad = await api.call(
        "POST", "/accounts", json={"email": "not-an-address", "password": factories.PASSWORD}
    )
    assert bad.status_code == 422
    extra = await api.call(
        "POST",
        "/accounts",
        json={"email": "x@example.com", "password": factories.PASSWORD, "is_operator": True},
    )
    assert extra.status_code == 422


async def test_password_reset_is_single_use_and_ends_sessions(api: Api) -> None:
    access = await api.user("reset@example.com")
    unknown = await api.call(
        "POST", "/accounts/password-reset", json={"email": "nobody@example.com"}
    )
    known = await api.call("POST", "/accounts/password-reset", json={"email": "reset@example.com"})
    assert unknown.status_code == known.status_code == 202 and unknown.json() == known.json()
    token = token_from((await api.last_mail("reset@example.com", "reset-password")).text_body)
    new = "a much better passphrase"
    await api.ok("POST", "/accounts/password-reset/confirm", json={"token": token, "password": new})
    reused = await api.call(
        "POST", "/accounts/password-reset/confirm", json={"token": token, "password": new + "!"}
    )
    assert reused.status_code == 400
    # the old access token is denied; the old password no longer works; the new one does
    assert (await api.call("GET", "/me", token=access)).status_code == 401
    wrong = await api.call(
        "POST", "/auth/login", json={"email": "reset@example.com", "password": factories.PASSWORD}
    )
    assert wrong.status_code == 401
    assert await api.login("reset@example.com", new)


async def test_change_email_needs_the_new_address(api: Api) -> None:
    access = await api.user("old@example.com")
    await api.ok(
        "POST",
        "/me/email",
        token=access,
        json={"new_email": "new@example.com", "current_password": factories.PASSWORD},
    )
    assert (await api.ok("GET", "/me", token=access))["email"] == "old@example.com"
    token = token_from((await api.last_mail("new@example.com", "change-email")).text_body)
    changed = await api.ok("POST", "/accounts/confirm-email", json={"token": token})
    assert changed["email"] == "new@example.com" and changed["email_verified"]
    assert await api.login("new@example.com")


async def test_delete_account_and_its_orgs(api: Api) -> None:
    """A sole member's org goes with the account; a sole owner with other members is refused."""
    alone = await api.user("alone@example.com")
    solo = await api.ok("POST", "/orgs", token=alone, json={"name": "Solo"})
    shared_owner = await api.user("owner@example.com")
    shared = await api.ok("POST", "/orgs", token=shared_owner, json={"name": "Shared"})
    async with api.db() as db:
        other = await factories.user(db, email="other@example.com")
        from haechi.platform.orgs.models import Organisation

        org = await db.get(Organisation, __import__("uuid").UUID(shared["id"]))
        assert org is not None
        await factories.member(db, org=org, user=other, role="viewer")
    refused = await api.call(
        "DELETE", "/me", token=shared_owner, json={"current_password": factories.PASSWORD}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "last-owner"
    await api.ok("DELETE", "/me", token=alone, json={"current_password": factories.PASSWORD})
    assert (await api.call("GET", "/me", token=alone)).status_code == 401
    async with api.db() as db:
        from haechi.platform.orgs.models import Organisation

        assert await db.get(Organisation, __import__("uuid").UUID(solo["id"])) is None


async def test_password_reset_mails_to_one_address_are_limited(api: Api) -> None:
    await api.user("flooded@example.com")
    for _ in range(service.RESET_MAILS_PER_HOUR + 3):
        answer = await api.call(
            "POST", "/accounts/password-reset", json={"email": "flooded@example.com"}
        )
        assert answer.status_code == 202  # the same answer: nothing to learn from it
    async with api.db() as db:
        sent = await db.scalar(
            sa.select(sa.func.count())
            .select_from(Mail)
            .where(Mail.to_address == "flooded@example.com", Mail.template == "reset-password")
        )
    assert sent == service.RESET_MAILS_PER_HOUR
