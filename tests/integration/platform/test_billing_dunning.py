"""Dunning, end to end: a card that declines at renewal is retried on the documented days, every
owner gets each mail (in their language) through the real SMTP capture, the org is downgraded
after the last retry, and its site answers challenges throughout."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import uvicorn

from haechi.core.settings import BillingSettings, PlansSettings
from haechi.dev.fake_toss import TEST_SECRET_KEY, FakeToss, create_app
from haechi.platform.billing import service
from haechi.platform.billing.models import Subscription
from haechi.platform.billing.providers.toss import TossClient
from tests import factories
from tests.integration.platform.driver import Api
from tests.integration.platform.smtp import SmtpServer
from tests.integration.platform.test_billing_api import register_card
from tests.integration.platform.test_e2e import ORIGIN, live  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


@pytest.fixture
async def toss(live: tuple[Api, SmtpServer]) -> AsyncIterator[FakeToss]:  # noqa: F811
    api, _ = live
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
        toss_api_url=f"http://127.0.0.1:{port}", toss_secret_key=TEST_SECRET_KEY
    )
    settings.plans = PlansSettings(enabled=True)
    try:
        yield app.state.toss
    finally:
        settings.billing, settings.plans = saved
        server.should_exit = True
        await task


async def test_declined_renewal_retries_mails_and_downgrades(
    live: tuple[Api, SmtpServer],  # noqa: F811
    toss: FakeToss,
) -> None:
    api, smtp = live
    async with api.db() as db:
        owner = await factories.user(db, email="owner@example.com")
        co_owner = await factories.user(db, email="co-owner@example.com", locale="ko")
        admin = await factories.user(db, email="admin@example.com")
        org = await factories.org(db, owner=owner, name="Acme")
        await factories.member(db, org=org, user=co_owner, role="owner")
        await factories.member(db, org=org, user=admin, role="admin")
        made = await factories.site(db, org=org, pepper=api.runtime.pepper)
        token = await factories.access_token(db, user=owner, keyring=api.runtime.keyring)
    sitekey = made.site.sitekey

    async def protected() -> None:
        reply = await api.http.post(
            "/v1/challenge", json={"v": 1, "sitekey": sitekey}, headers={"origin": ORIGIN}
        )
        assert reply.status_code == 200 and reply.json()["pow"], reply.text

    callback = await register_card(api, token, str(org.id), "pro", "4330123412341234")
    await api.ok("POST", f"/orgs/{org.id}/billing/subscription", token=token, json=callback)
    await protected()
    (billing_key,) = toss.billing
    toss.decline(billing_key, "INVALID_CARD_EXPIRATION")  # the card expired since
    async with api.db() as db:
        sub = await db.get(Subscription, org.id)
        assert sub is not None
        renewal = sub.renews_at

    client = TossClient(api.runtime.settings.billing)
    ctx = service.Billing(
        client=client,
        keyring=api.runtime.keyring,
        settings=api.runtime.settings,
        jobs=api.runtime.jobs,
    )
    try:
        # the renewal, then the retries 1, 3 and 5 days after it (docs: RETRY_DAYS)
        for n, day in enumerate((0, *service.RETRY_DAYS), start=1):
            run = await service.charge_due(
                sessions=api.runtime.sessions, ctx=ctx, now=renewal + timedelta(days=day, minutes=1)
            )
            assert run.declined == 1 and run.charged == 0, (day, run)
            # a second run the same minute tries nothing again
            again = await service.charge_due(
                sessions=api.runtime.sessions, ctx=ctx, now=renewal + timedelta(days=day, minutes=2)
            )
            assert again.declined == 0 and again.charged == 0
            state = await api.ok("GET", f"/orgs/{org.id}/billing", token=token)
            last = n == len(service.RETRY_DAYS) + 1
            assert state["subscription"]["status"] == ("canceled" if last else "past_due")
            assert state["plan"] == ("free" if last else "pro")
            if not last:
                en = await smtp.inbox.wait_for("owner@example.com", f"(attempt {n} of 4)")
                assert "INVALID_CARD_EXPIRATION" in smtp.inbox.text(en)
                await smtp.inbox.wait_for("co-owner@example.com", f"(4회 중 {n}회)")
            await protected()
    finally:
        await client.close()
    en = await smtp.inbox.wait_for("owner@example.com", "moved to the free plan")
    assert "still protected" in smtp.inbox.text(en)
    ko = await smtp.inbox.wait_for("co-owner@example.com", "무료 요금제로 바뀌었습니다")
    assert "사이트 보호는 계속됩니다" in smtp.inbox.text(ko)
    await asyncio.sleep(0.3)  # nothing else is on its way
    to = [str(m["To"]) for m in smtp.inbox.messages]
    assert to.count("owner@example.com") == 4 and to.count("co-owner@example.com") == 4
    assert "admin@example.com" not in to  # owners only
    assert len(toss.payments) == 1  # the first charge; no renewal was charged
    await protected()
