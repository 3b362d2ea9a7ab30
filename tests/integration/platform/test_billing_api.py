"""The billing API against the loopback Toss server over its real base URL: card registration as
Toss's redirect flow, the first charge, proration, a downgrade at renewal, credits, cancel and
resume, invoices (JSON, HTML, PDF), refunds, roles and audit, a declined first charge."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from haechi.core.db import utcnow
from haechi.core.settings import BillingSettings, PlansSettings
from haechi.dev.fake_toss import TEST_SECRET_KEY, FakeToss, create_app
from haechi.platform.audit.models import AuditEvent
from haechi.platform.billing import service
from haechi.platform.billing.models import Subscription
from haechi.platform.billing.providers.toss import TossClient
from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration


@pytest.fixture
async def toss(api: Api) -> AsyncIterator[FakeToss]:
    """The fake on a loopback port, and the app's billing and plans settings pointed at it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = create_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    settings = api.runtime.settings
    saved = settings.billing, settings.plans
    settings.billing = BillingSettings(
        toss_api_url=f"http://127.0.0.1:{port}",
        toss_secret_key=TEST_SECRET_KEY,
        toss_client_key="test_ck_haechi_fake",
    )
    settings.plans = PlansSettings(enabled=True)
    try:
        yield app.state.toss
    finally:
        settings.billing, settings.plans = saved
        server.should_exit = True
        await task


async def register_card(api: Api, token: str, org_id: str, plan: str, card: str) -> Any:
    """What the dashboard and the browser do: ask for the registration parameters, submit the
    (fake) Toss window, follow its redirect back with authKey and customerKey."""
    start = await api.ok(
        "POST", f"/orgs/{org_id}/billing/card-registration", token=token, json={"plan": plan}
    )
    assert start["registration_url"]
    async with httpx.AsyncClient() as browser:
        reply = await browser.post(
            start["registration_url"],
            data={
                "customerKey": start["customer_key"],
                "successUrl": start["success_url"],
                "failUrl": start["fail_url"],
                "cardNumber": card,
            },
        )
    assert reply.status_code == 302
    location = reply.headers["location"]
    assert location.startswith(start["success_url"] + "&")
    query = parse_qs(urlsplit(location).query)
    return {
        "auth_key": query["authKey"][0],
        "customer_key": query["customerKey"][0],
        "plan": query["plan"][0],
    }


async def test_subscribe_prorate_credit_renew_refund(api: Api, toss: FakeToss) -> None:
    async with api.db() as db:
        owner = await factories.user(db)
        admin = await factories.user(db)
        dev = await factories.user(db)
        operator = await factories.user(db, operator=True)
        stranger = await factories.user(db)
        org = await factories.org(db, owner=owner, name="Acme 주식회사")
        other = await factories.org(db, owner=stranger, name="Other")
        await factories.member(db, org=org, user=admin, role="admin")
        await factories.member(db, org=org, user=dev, role="developer")
        tok = {
            name: await factories.access_token(db, user=user, keyring=api.runtime.keyring)
            for name, user in (
                ("owner", owner),
                ("admin", admin),
                ("dev", dev),
                ("operator", operator),
                ("stranger", stranger),
            )
        }
    base = f"/orgs/{org.id}/billing"

    # roles: admins read, only owners write; developers see nothing
    assert (await api.call("GET", base, token=tok["dev"])).status_code == 403
    state = await api.ok("GET", base, token=tok["admin"])
    assert state == {"enabled": True, "plan": "free", "subscription": None, "credit_balance": 0}
    reply = await api.call(
        "POST", base + "/card-registration", token=tok["admin"], json={"plan": "pro"}
    )
    assert reply.status_code == 403
    unknown = await api.call(
        "POST", base + "/card-registration", token=tok["owner"], json={"plan": "gold"}
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown-plan"
    free = await api.call(
        "POST", base + "/card-registration", token=tok["owner"], json={"plan": "free"}
    )
    assert free.status_code == 400 and free.json()["code"] == "plan-is-free"

    # card registration -> billing key -> subscription on Pro, charged at once (idempotent)
    callback = await register_card(api, tok["owner"], str(org.id), "pro", "4330123412341234")
    wrong = {**callback, "customer_key": "cus_someone_else"}
    reply = await api.call("POST", base + "/subscription", token=tok["owner"], json=wrong)
    assert reply.status_code == 400
    headers = {"idempotency-key": "subscribe-1"}
    first = await api.call(
        "POST", base + "/subscription", token=tok["owner"], json=callback, headers=headers
    )
    assert first.status_code == 201, first.text
    again = await api.call(
        "POST", base + "/subscription", token=tok["owner"], json=callback, headers=headers
    )
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
    state = first.json()
    assert state["plan"] == "pro" and state["subscription"]["status"] == "active"
    assert state["subscription"]["amount"] == 49_000
    assert toss.charge_calls == 1
    async with api.db() as db:
        sub = await db.get(Subscription, org.id)
        assert sub is not None and sub.billing_key not in str(toss.billing)
        assert next(iter(toss.billing)) not in sub.billing_key

    history = await api.ok("GET", base + "/history", token=tok["admin"])
    (entry,) = history["data"]
    invoice = entry["invoice"]
    assert entry["charge"]["status"] == "done" and entry["charge"]["kind"] == "renewal"
    assert invoice["total"] == 49_000 and (invoice["supply"], invoice["vat"]) == (44_545, 4_455)
    assert invoice["number"].startswith("HAE-") and invoice["number"].endswith("-000001")
    # invoices: JSON, HTML and PDF for owners and admins; 403 for developers, 404 elsewhere
    path = f"{base}/invoices/{invoice['id']}"
    page = await api.call("GET", path + "/html", token=tok["admin"])
    assert page.status_code == 200 and invoice["number"] in page.text
    assert "Acme 주식회사" in page.text and "4,455" in page.text
    pdf = await api.call("GET", path + "/pdf", token=tok["owner"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert (await api.call("GET", path + "/pdf", token=tok["dev"])).status_code == 403
    elsewhere = f"/orgs/{other.id}/billing/invoices/{invoice['id']}"
    assert (await api.call("GET", elsewhere, token=tok["stranger"])).status_code == 404

    # upgrade half-way through the paid period: half the difference, charged now
    now = utcnow()
    async with api.db() as db:
        sub = await db.get(Subscription, org.id)
        assert sub is not None
        sub.period_start = now - (sub.renews_at - now)
    up = await api.ok(
        "POST", base + "/subscription/plan", token=tok["owner"], json={"plan": "business"}
    )
    half = (290_000 - 49_000) // 2
    assert up["effective"] == "now" and abs(up["charged"] - half) <= 2, up
    assert up["billing"]["plan"] == "business" and up["invoice_id"]
    upgrade = await api.ok("GET", f"{base}/invoices/{up['invoice_id']}", token=tok["owner"])
    assert [line["kind"] for line in upgrade["lines"]] == ["proration"]
    assert upgrade["total"] == up["charged"]
    # a downgrade waits for the renewal
    down = await api.ok(
        "POST", base + "/subscription/plan", token=tok["owner"], json={"plan": "pro"}
    )
    assert down["effective"] == "renewal" and down["charged"] == 0
    assert down["billing"]["plan"] == "business"
    assert down["billing"]["subscription"]["pending_plan"] == "pro"

    # operators grant credit (not members, not owners)
    grant = {"amount": 10_000, "reason": "outage in November"}
    path = f"/admin/orgs/{org.id}/billing/credits"
    assert (await api.call("POST", path, token=tok["owner"], json=grant)).status_code == 403
    await api.ok("POST", path, token=tok["operator"], json=grant)
    assert (await api.ok("GET", base, token=tok["owner"]))["credit_balance"] == 10_000

    # cancel and resume at period end
    cancelled = await api.ok("POST", base + "/subscription/cancel", token=tok["owner"])
    assert cancelled["subscription"]["cancel_at_period_end"] is True
    resumed = await api.ok("POST", base + "/subscription/resume", token=tok["owner"])
    assert resumed["subscription"]["cancel_at_period_end"] is False

    # the renewal: Pro from now on, less the credit
    async with api.db() as db:
        sub = await db.get(Subscription, org.id)
        assert sub is not None
        renews_at = sub.renews_at
    client = TossClient(api.runtime.settings.billing)
    ctx = service.Billing(client=client, keyring=api.runtime.keyring, settings=api.runtime.settings)
    try:
        async with api.runtime.sessions() as db:
            outcome = await service.charge_subscription(db, ctx, org.id, renews_at)
        assert outcome == "charged"
        state = await api.ok("GET", base, token=tok["owner"])
        assert state["plan"] == "pro" and state["subscription"]["pending_plan"] is None
        assert state["credit_balance"] == 0
        history = await api.ok("GET", base + "/history", token=tok["owner"])
        renewal = history["data"][0]
        assert renewal["charge"]["amount"] == 39_000
        assert renewal["charge"]["credit_applied"] == 10_000
        lines = [(line["kind"], line["amount"]) for line in renewal["invoice"]["lines"]]
        assert lines == [("plan", 49_000), ("credit", -10_000)]
        assert renewal["invoice"]["total"] == 39_000
        # gap-free per series (operator and year): the first, the upgrade, the renewal
        series: dict[str, list[int]] = {}
        for e in history["data"]:
            prefix, _, seq = e["invoice"]["number"].rpartition("-")
            series.setdefault(prefix, []).append(int(seq))
        assert all(sorted(v) == list(range(1, len(v) + 1)) for v in series.values()), series
        assert sum(len(v) for v in series.values()) == 3

        # operators refund a payment (Toss's cancel); the invoice says so
        charge_id = renewal["charge"]["id"]
        path = f"/admin/billing/charges/{charge_id}/refund"
        body = {"reason": "goodwill"}
        assert (await api.call("POST", path, token=tok["owner"], json=body)).status_code == 403
        refunded = await api.ok("POST", path, token=tok["operator"], json=body)
        assert refunded["status"] == "refunded"
        again = await api.call("POST", path, token=tok["operator"], json=body)
        assert again.status_code == 409
        history = await api.ok("GET", base + "/history", token=tok["owner"])
        assert history["data"][0]["invoice"]["status"] == "refunded"
        (payment,) = [p for p in toss.payments.values() if p["status"] == "CANCELED"]
        assert payment["cancels"][0]["cancelAmount"] == 39_000
    finally:
        await client.close()

    async with api.db() as db:
        actions = set(
            (
                await db.scalars(sa.select(AuditEvent.action).where(AuditEvent.org_id == org.id))
            ).all()
        )
    assert {
        "billing.subscribe",
        "billing.plan-change",
        "billing.credit-grant",
        "billing.cancel",
        "billing.resume",
        "billing.refund",
        "plan.assign",
    } <= actions


async def test_a_declined_first_charge_starts_nothing(api: Api, toss: FakeToss) -> None:
    async with api.db() as db:
        owner = await factories.user(db)
        org = await factories.org(db, owner=owner)
        token = await factories.access_token(db, user=owner, keyring=api.runtime.keyring)
    base = f"/orgs/{org.id}/billing"
    callback = await register_card(api, token, str(org.id), "pro", "4330123412340003")
    reply = await api.call("POST", base + "/subscription", token=token, json=callback)
    assert reply.status_code == 402 and reply.json()["code"] == "payment-declined"
    assert "REJECT_CARD_COMPANY" in reply.json()["detail"]
    state = await api.ok("GET", base, token=token)
    assert state["plan"] == "free" and state["subscription"]["status"] == "canceled"
    # a card refused at registration comes back on the fail URL
    start = await api.ok("POST", base + "/card-registration", token=token, json={"plan": "pro"})
    async with httpx.AsyncClient() as browser:
        refused = await browser.post(
            start["registration_url"],
            data={
                "customerKey": start["customer_key"],
                "successUrl": start["success_url"],
                "failUrl": start["fail_url"],
                "cardNumber": "4330123412340010",
            },
        )
    assert refused.headers["location"].startswith(start["fail_url"] + "&")
    assert "code=INVALID_CARD_NUMBER" in refused.headers["location"]
