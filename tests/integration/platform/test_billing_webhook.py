"""Toss webhooks: verified by fetching the payment back from the (loopback) Toss server over its
real base URL; a duplicate, late or out-of-order delivery changes nothing twice; a forged event
changes nothing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from haechi.core.settings import BillingSettings
from haechi.dev.fake_toss import TEST_SECRET_KEY, FakeToss, Webhooks, create_app
from haechi.platform.billing.models import Charge
from haechi.platform.billing.providers.toss import TossClient
from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration


@pytest.fixture
async def toss_url() -> AsyncIterator[tuple[str, FakeToss]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}", app.state.toss
    server.should_exit = True
    await task


async def test_webhooks_are_verified_and_idempotent(
    api: Api, toss_url: tuple[str, FakeToss]
) -> None:
    url, toss = toss_url
    settings = BillingSettings(toss_api_url=url, toss_secret_key=TEST_SECRET_KEY)
    saved = api.runtime.settings.billing
    api.runtime.settings.billing = settings
    client = TossClient(settings)
    try:
        now = datetime.now(UTC)
        async with api.db() as db:
            owner = await factories.user(db)
            org = await factories.org(db, owner=owner)
            charge = Charge(
                org_id=org.id,
                period="2026-12",
                order_id="haechi-202612-webhook",
                idempotency_key="k",
                amount=29_000,
                status="pending",  # the run was lost after Toss charged
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            db.add(charge)
        auth_key = toss.register_card("cus_webhook", "4330123412341234")
        billing = await client.issue_billing_key(auth_key=auth_key, customer_key="cus_webhook")
        payment = await client.charge(
            billing_key=billing.billing_key,
            customer_key="cus_webhook",
            amount=29_000,
            order_id="haechi-202612-webhook",
            order_name="Haechi pro 2026-12",
            idempotency_key="k-0",
        )
        await client.cancel(payment.payment_key, reason="refund", idempotency_key="c")
        done_event, canceled_event = toss.events

        async def deliver(event: dict[str, object]) -> int:
            reply = await api.call("POST", "/billing/webhooks/toss", json=event)
            return reply.status_code

        async def status() -> tuple[str, str | None]:
            async with api.db() as db:
                row = await db.get(Charge, charge.id)
                assert row is not None
                return row.status, row.payment_key

        # out of order: the cancel arrives first; the payment fetched back is already canceled
        assert await deliver(canceled_event) == 200
        assert await status() == ("refunded", None)
        # the late DONE event and duplicates change nothing: Toss says CANCELED
        for event in (done_event, done_event, canceled_event):
            assert await deliver(event) == 200
        assert await status() == ("refunded", None)
        # a forged event naming an unknown payment, and junk, change nothing
        forged = {"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "tgen_forged"}}
        assert await deliver(forged) == 200
        assert await deliver({"eventType": "SOMETHING_ELSE"}) == 200
        assert (await api.call("POST", "/billing/webhooks/toss", content=b"[")).status_code == 400
        assert await status() == ("refunded", None)
    finally:
        api.runtime.settings.billing = saved
        await client.close()


async def test_the_fakes_delivery_retries_duplicates_and_reorders(
    api: Api, toss_url: tuple[str, FakeToss]
) -> None:
    """The fake delivers like Toss: each event twice, a batch in shuffled order, and a delivery
    answered 503 (Toss could not be asked back) retried until answered 200. The charge ends as
    Toss says, and the subscription is moved on once."""
    url, toss = toss_url
    settings = BillingSettings(toss_api_url=url, toss_secret_key=TEST_SECRET_KEY)
    saved = api.runtime.settings.billing
    api.runtime.settings.billing = settings
    client = TossClient(settings)
    app = api.http._transport.app  # type: ignore[attr-defined]
    refusals = 3

    async def flaky(scope: Any, receive: Any, send: Any) -> None:
        nonlocal refusals
        if scope["type"] == "http" and refusals > 0:
            refusals -= 1
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    try:
        now = datetime.now(UTC)
        async with api.db() as db:
            owner = await factories.user(db)
            org = await factories.org(db, owner=owner)
            charges = [
                Charge(
                    org_id=org.id,
                    period=period,
                    order_id=f"haechi-{period}-{org.id.hex}",
                    idempotency_key=f"k{period}",
                    amount=49_000,
                    status="pending",
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                for period in ("2026-11", "2026-12")
            ]
            db.add_all(charges)
        auth_key = toss.register_card("cus_delivery", "4330123412341234")
        billing = await client.issue_billing_key(auth_key=auth_key, customer_key="cus_delivery")
        payments = []
        for charge in charges:
            payments.append(
                await client.charge(
                    billing_key=billing.billing_key,
                    customer_key="cus_delivery",
                    amount=49_000,
                    order_id=charge.order_id,
                    order_name="Haechi Pro",
                    idempotency_key=charge.idempotency_key + "-0",
                )
            )
        await client.cancel(payments[0].payment_key, reason="refund", idempotency_key="c1")
        assert len(toss.events) == 3  # DONE, DONE, CANCELED
        toss.webhooks = Webhooks(
            url="http://haechi.test/api/v1/billing/webhooks/toss",
            duplicates=1,
            shuffle=True,
            seed=7,
            backoff=0.01,
            retries=5,
        )
        transport = httpx.ASGITransport(app=flaky, client=("198.51.100.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://haechi.test") as http:
            delivered = await toss.deliver_pending(http)
        assert delivered == 6 and toss.events == []
        assert [d[3] for d in toss.deliveries].count(503) == 3
        assert [d[3] for d in toss.deliveries].count(200) == 6
        order = [(d[1], d[2]) for d in toss.deliveries if d[3] == 200]
        assert order != sorted(order, key=lambda x: x[1] == "CANCELED")  # out of order
        async with api.db() as db:
            rows = {
                c.period: (c.status, c.payment_key)
                for c in (await db.scalars(sa.select(Charge).where(Charge.org_id == org.id))).all()
            }
        # the refunded one says so; the other is done with its payment
        assert rows["2026-11"][0] == "refunded"
        assert rows["2026-12"] == ("done", payments[1].payment_key)
    finally:
        api.runtime.settings.billing = saved
        await client.close()
