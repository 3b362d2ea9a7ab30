"""The mail outbox's dead-letter state and the operator API (every action audited)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from haechi.platform.audit.models import AuditEvent
from haechi.platform.email import service as mail
from haechi.platform.email.mailer import FileMailer
from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration


class Refusing:
    async def send(self, message: EmailMessage) -> None:
        raise ConnectionRefusedError("smtp down")


async def test_a_failing_mail_is_parked_then_retried_by_an_operator(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await api.signup("late@example.com")
    queued = await api.last_mail("late@example.com", "verify-email")
    async with api.runtime.sessions() as db:
        with pytest.raises(ConnectionRefusedError):
            await mail.send(
                db, mail_id=queued.id, mailer=Refusing(), sender="x@y.z", max_attempts=2
            )
        status = await mail.send(
            db, mail_id=queued.id, mailer=Refusing(), sender="x@y.z", max_attempts=2
        )
    assert status == "dead"
    async with api.db() as db:
        operator = await factories.user(db, operator=True)
        plain = await factories.user(db)
        op_token = await factories.access_token(db, user=operator, keyring=api.runtime.keyring)
        user_token = await factories.access_token(db, user=plain, keyring=api.runtime.keyring)
    assert (await api.call("GET", "/admin/mail", token=user_token)).status_code == 403
    dead = await api.ok("GET", "/admin/mail", token=op_token, params={"status": "dead"})
    assert [m["id"] for m in dead["data"]] == [str(queued.id)]
    assert "smtp down" in dead["data"][0]["last_error"]
    retried = await api.ok("POST", f"/admin/mail/{queued.id}/retry", token=op_token)
    assert retried["status"] == "pending" and retried["attempts"] == 0
    async with api.runtime.sessions() as db:
        status = await mail.send(
            db, mail_id=queued.id, mailer=FileMailer(tmp_path), sender="x@y.z", max_attempts=2
        )
    assert status == "sent"
    (eml,) = tmp_path.glob("*.eml")
    assert b"verify-email?token=" in eml.read_bytes()
    # only dead mail can be dropped
    assert (await api.call("DELETE", f"/admin/mail/{queued.id}", token=op_token)).status_code == 409
    async with api.runtime.sessions() as db:
        actions = (
            await db.scalars(
                sa.select(AuditEvent.action).where(AuditEvent.actor_type == "operator")
            )
        ).all()
    assert "admin.mail-retry" in actions


async def test_operators_find_and_suspend_orgs(api: Api) -> None:
    async with api.db() as db:
        operator = await factories.user(db, operator=True)
        owner = await factories.user(db, email="suspect@example.com")
        org = await factories.org(db, owner=owner, name="Spammy Ltd")
        await factories.site(db, org=org, pepper=api.runtime.pepper)
        op_token = await factories.access_token(db, user=operator, keyring=api.runtime.keyring)
        owner_token = await factories.access_token(db, user=owner, keyring=api.runtime.keyring)
    users = await api.ok("GET", "/admin/users", token=op_token, params={"q": "suspect"})
    assert [u["email"] for u in users["data"]] == ["suspect@example.com"]
    orgs = await api.ok("GET", "/admin/orgs", token=op_token, params={"q": "spammy"})
    assert [o["name"] for o in orgs["data"]] == ["Spammy Ltd"]
    sites = await api.ok("GET", f"/admin/orgs/{org.id}/sites", token=op_token)
    assert len(sites["data"]) == 1
    suspended = await api.ok("POST", f"/admin/orgs/{org.id}/suspend", token=op_token)
    assert suspended["suspended_at"]
    # members read, but cannot change anything
    assert (await api.call("GET", f"/orgs/{org.id}/sites", token=owner_token)).status_code == 200
    refused = await api.call(
        "POST",
        f"/orgs/{org.id}/sites",
        token=owner_token,
        json={"name": "x", "hostnames": ["x.example.com"]},
    )
    assert refused.status_code == 403 and refused.json()["code"] == "org-suspended"
    await api.ok("POST", f"/admin/orgs/{org.id}/unsuspend", token=op_token)
    assert (
        await api.call(
            "POST",
            f"/orgs/{org.id}/sites",
            token=owner_token,
            json={"name": "x", "hostnames": ["x.example.com"]},
        )
    ).status_code == 201
    events = await api.ok(
        "GET", f"/orgs/{org.id}/audit", token=owner_token, params={"action": "admin.org-suspend"}
    )
    assert len(events["data"]) == 1 and events["data"][0]["actor_type"] == "operator"


async def test_audit_paging_and_filters(api: Api) -> None:
    async with api.db() as db:
        owner = await factories.user(db)
        org = await factories.org(db, owner=owner)
        token = await factories.access_token(db, user=owner, keyring=api.runtime.keyring)
    for i in range(5):
        await api.ok(
            "POST",
            f"/orgs/{org.id}/sites",
            token=token,
            json={"name": f"s{i}", "hostnames": [f"s{i}.example.com"]},
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "action": "site.create", **({"cursor": cursor} if cursor else {})}
        page = await api.ok("GET", f"/orgs/{org.id}/audit", token=token, params=params)
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    bad = await api.call("GET", f"/orgs/{org.id}/audit", token=token, params={"cursor": "garbage!"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid-cursor"
    naive = await api.call(
        "GET", f"/orgs/{org.id}/audit", token=token, params={"since": "2020-01-01T00:00:00"}
    )
    assert naive.status_code == 422
