"""The monthly charge run against the loopback Toss server: each subscribed org is charged once
per period even when the run is killed midway and rerun, and a declined renewal is retried on
the documented days and then downgraded. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from haechi.core.crypto import Keyring
from haechi.core.db import create_engine, migrate, session_factory
from haechi.core.settings import BillingSettings, PlanSpec, Settings
from haechi.dev.fake_toss import TEST_SECRET_KEY, FakeToss, create_app
from haechi.platform.billing import service
from haechi.platform.billing.models import Charge, Invoice, Subscription
from haechi.platform.billing.providers.toss import TossClient
from haechi.platform.orgs.models import Organisation
from haechi.platform.plans import service as plans
from haechi.platform.sites.models import Site
from haechi.platform.usage.models import UsageDaily
from tests.conftest import POSTGRES_URL, _create_database, _drop_database, unavailable, unique

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
PRO = 49_000  # the settings catalogue's Pro


class Crash(Exception):
    pass


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    client: TossClient
    toss: FakeToss
    http: httpx.AsyncClient
    keyring: Keyring
    settings: Settings

    @property
    def ctx(self) -> service.Billing:
        return service.Billing(client=self.client, keyring=self.keyring, settings=self.settings)

    async def run(self, now: datetime, fault: service.Fault | None = None) -> service.ChargeRun:
        ctx = self.ctx
        if fault is not None:
            ctx.fault = fault
        return await service.charge_due(sessions=self.sessions, ctx=ctx, now=now)


@pytest.fixture(params=["sqlite", "postgres"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    server = name = ""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'billing.db'}"
    else:
        server, name = POSTGRES_URL, unique("haechi_billing")
        try:
            url = await _create_database(server, name)
        except Exception as error:
            unavailable("postgres", error)
    await migrate(url)
    engine = create_engine(url)
    app = create_app()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://toss.test")
    client = TossClient(
        BillingSettings(toss_api_url="http://toss.test", toss_secret_key=TEST_SECRET_KEY),
        http=http,
    )
    keyring = Keyring({"k1": secrets.token_bytes(32)}, "k1")
    settings = Settings(env="test", data_dir=tmp_path, plans={"enabled": True})
    try:
        yield World(session_factory(engine), client, app.state.toss, http, keyring, settings)
    finally:
        await http.aclose()
        await engine.dispose()
        if name:
            await _drop_database(server, name)


async def subscribe(w: World, n: int, card: str = "4330123412341234") -> list[Organisation]:
    orgs = []
    async with w.sessions() as db:
        for i in range(n):
            org = Organisation(name=f"Org {i}", slug=unique("org"))
            db.add(org)
            await db.flush()
            customer = "cus_" + secrets.token_hex(12)
            reply = await w.http.post(
                "/fake/billing-auth",
                data={
                    "customerKey": customer,
                    "cardNumber": card,
                    "successUrl": "https://dash.example/ok",
                    "failUrl": "https://dash.example/fail",
                },
            )
            auth_key = parse_qs(urlsplit(reply.headers["location"]).query)["authKey"][0]
            issued = await w.client.issue_billing_key(auth_key=auth_key, customer_key=customer)
            db.add(
                Subscription(
                    org_id=org.id,
                    customer_key=customer,
                    billing_key=w.keyring.seal(
                        service.BILLING_KEY_PURPOSE, issued.billing_key.encode()
                    ),
                    card_company=issued.card_company,
                    card_number=issued.card_number,
                    plan="pro",
                    amount=PRO,
                    status="active",
                    renews_at=NOW,
                    next_charge_at=NOW,
                    created_at=NOW,
                )
            )
            orgs.append(org)
        await db.commit()
    return orgs


def crash_on(step: str, nth: int) -> service.Fault:
    seen = 0

    def fault(name: str) -> None:
        nonlocal seen
        if name == step:
            seen += 1
            if seen == nth:
                raise Crash(f"{step} #{nth}")

    return fault


async def test_a_killed_run_charges_each_org_once(world: World) -> None:
    # 60 in the suite; HAECHI_TEST_BILLING_ORGS=1000 for the acceptance run.
    n = int(os.environ.get("HAECHI_TEST_BILLING_ORGS", "60"))
    await subscribe(world, n)
    for step, nth in (("charged", n // 4), ("recorded", n // 6), ("charged", 1)):
        with pytest.raises(Crash):
            await world.run(NOW, crash_on(step, nth))
    await world.run(NOW)
    orders = Counter(p["orderId"] for p in world.toss.payments.values())
    assert len(orders) == n and set(orders.values()) == {1}
    # the runs killed after Toss charged asked again with the same key and got a replay
    assert world.toss.charge_calls == n and world.toss.charge_requests == n + 2
    async with world.sessions() as db:
        charges = (await db.scalars(sa.select(Charge))).all()
        assert len(charges) == n and {c.status for c in charges} == {"done"}
        assert {c.payment_key for c in charges} == set(world.toss.payments)
        # one invoice per paid charge, numbered without gaps although runs died mid-charge
        invoices = (await db.scalars(sa.select(Invoice))).all()
        assert sorted(i.number for i in invoices) == [f"HAE-2026-{k:06d}" for k in range(1, n + 1)]
        assert all(i.total == PRO and i.supply + i.vat == PRO for i in invoices)
        assert {i.vat for i in invoices} == {4_455}  # 49,000 / 11 = 4,454.5 -> 4,455
        subs = (await db.scalars(sa.select(Subscription))).all()
        assert {s.next_charge_at for s in subs} == {datetime(2027, 1, 1, 0, 30, tzinfo=UTC)}
    # a rerun charges nothing more; next month charges everyone once more
    again = await world.run(NOW)
    assert again.charged == 0 and len(world.toss.payments) == n
    later = await world.run(NOW + timedelta(days=31))
    assert later.charged == n and len(world.toss.payments) == 2 * n


async def test_a_declined_renewal_is_retried_then_downgraded(world: World) -> None:
    (org,) = await subscribe(world, 1, card="4330123412340002")
    # renewal, then the retries 1, 3 and 5 days after it
    for day, status in ((0, "past_due"), (1, "past_due"), (3, "past_due"), (5, "canceled")):
        run = await world.run(NOW + timedelta(days=day, minutes=1))
        assert run.declined == 1, day
        async with world.sessions() as db:
            sub = await db.get(Subscription, org.id)
            assert sub is not None and sub.status == status, day
    assert sub.plan == service.FREE_PLAN
    async with world.sessions() as db:
        charge = await db.scalar(sa.select(Charge))
        assert charge is not None and charge.attempts == 4
        assert charge.failure_code == "REJECT_CARD_PAYMENT"
    assert world.toss.payments == {}
    # nothing more is tried once downgraded
    run = await world.run(NOW + timedelta(days=40))
    assert run.declined == 0 and run.charged == 0


async def test_the_billing_key_is_sealed_at_rest(world: World) -> None:
    (org,) = await subscribe(world, 1)
    (billing_key,) = world.toss.billing
    async with world.sessions() as db:
        stored = await db.scalar(
            sa.select(Subscription.billing_key).where(Subscription.org_id == org.id)
        )
    assert stored is not None and billing_key not in stored
    assert base64.urlsafe_b64encode(billing_key.encode()).decode()[:20] not in stored
    opened = world.keyring.open(service.BILLING_KEY_PURPOSE, stored).decode()
    assert opened == billing_key


async def test_overage_credit_and_a_downgrade_on_the_renewal_invoice(world: World) -> None:
    """In "overage" mode the renewal bills the last whole month's verified tokens over the
    quota (per started 1,000, at the plan's rate), then takes credit off; a scheduled
    downgrade prices the new period, while the overage is at the old plan's rate."""
    world.settings.plans.over_quota = "overage"
    (org,) = await subscribe(world, 1)
    await world.run(NOW)  # 2026-12 paid, renews 2027-01-01
    async with world.sessions() as db:
        site = Site(org_id=org.id, name="shop", sitekey=unique("sk"),
                    secret_digest=unique("d"), hostnames=["shop.example"])  # fmt: skip
        db.add(site)
        await db.flush()
        # Pro: 500,000 a month. December: 512,345 verified (12,345 over -> 13 started
        # thousands x 100 KRW); a November row and a January row are not this renewal's.
        for day, count in ((date(2026, 11, 30), 900_000), (date(2026, 12, 1), 500_000),
                           (date(2026, 12, 31), 12_345), (date(2027, 1, 1), 777)):  # fmt: skip
            db.add(UsageDaily(sitekey=site.sitekey, day=day, event="verifies", count=count))
        sub = await db.get(Subscription, org.id)
        assert sub is not None
        sub.pending_plan = "pro"  # unchanged plan: same price
        await service.grant_credit(
            db, org_id=org.id, amount=3_000, reason="test", now=NOW,
            actor=service.SYSTEM,
        )  # fmt: skip
        await db.commit()
    run = await world.run(datetime(2027, 1, 1, 0, 31, tzinfo=UTC))
    assert run.charged == 1
    async with world.sessions() as db:
        charge = await db.scalar(sa.select(Charge).where(Charge.period == "2027-01"))
        assert charge is not None
        kinds = [(x["kind"], x["amount"]) for x in charge.lines or []]
        assert kinds == [("plan", PRO), ("overage", 1_300), ("credit", -3_000)]
        assert charge.amount == PRO + 1_300 - 3_000 and charge.credit_applied == 3_000
        invoice = await db.scalar(sa.select(Invoice).where(Invoice.charge_id == charge.id))
        assert invoice is not None and invoice.total == charge.amount
        assert invoice.supply + invoice.vat == invoice.total
        assert await service.credit_balance(db, org.id) == 0
    paid = [p for p in world.toss.payments.values() if p["orderId"] == charge.order_id]
    assert paid[0]["totalAmount"] == PRO + 1_300 - 3_000


@pytest.mark.parametrize("step", ["upgrade-recorded", "upgrade-charged"])
async def test_a_lost_upgrade_request_is_settled_once(world: World, step: str) -> None:
    """The request dies after recording the upgrade charge (before or after Toss charged): the
    next plan change (or the charge run) settles it from Toss's record by order id, so the
    upgrade is paid once, and the plan switched and invoiced once."""
    (org,) = await subscribe(world, 1)
    await world.run(NOW)
    mid = NOW + timedelta(days=15, hours=12)  # half-way through December
    ctx = world.ctx
    ctx.fault = crash_on(step, 1)
    async with world.sessions() as db:
        with pytest.raises(Crash):
            await service.change_plan(db, ctx, org_id=org.id, plan_key="business", now=mid)
    upgrades = [p for p in world.toss.payments.values() if "+u" not in p["orderId"]]
    charged_before = len(world.toss.payments)
    # within LOST_AFTER the pending charge is left alone (its request may be running) ...
    async with world.sessions() as db:
        with pytest.raises(service.Conflict):
            await service.change_plan(
                db, world.ctx, org_id=org.id, plan_key="business", now=mid + timedelta(minutes=1)
            )
    # ... after it, it is settled from Toss's record
    later = mid + service.LOST_AFTER + timedelta(minutes=1)
    async with world.sessions() as db:
        change = await service.change_plan(
            db, world.ctx, org_id=org.id, plan_key="business", now=later
        )
    async with world.sessions() as db:
        sub = await db.get(Subscription, org.id)
        assert sub is not None
        rows = (await db.scalars(sa.select(Charge).where(Charge.kind == "upgrade"))).all()
        invoices = (await db.scalars(sa.select(Invoice))).all()
    paid = [r for r in rows if r.status == "done"]
    assert len(paid) == 1 and sub.plan == "business"
    upgrade_payments = [
        p for p in world.toss.payments.values() if p["orderId"].endswith(("u1", "u2"))
    ]
    assert len(upgrade_payments) == 1  # charged once, whichever request did it
    assert len(invoices) == 2  # December's renewal and the upgrade
    if step == "upgrade-charged":
        assert change.effective == "unchanged" and charged_before == 2
        assert [r.status for r in rows] == ["done"]
    else:
        assert change.effective == "now" and charged_before == 1
        assert sorted(r.status for r in rows) == ["done", "failed"]
    assert upgrades  # December's renewal
    period_end = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    at = mid if step == "upgrade-charged" else later
    expected = service.prorate(290_000 - PRO, period_end - at, period_end - NOW)
    assert paid[0].amount == expected
    assert step == "upgrade-recorded" or expected == (290_000 - PRO) // 2  # half-way


async def test_a_custom_plan_is_charged_its_price(world: World) -> None:
    """An operator's custom plan (the catalogue's SQL plans) is subscribed to and renewed at
    its own price, and assigned to the org when paid."""
    async with world.sessions() as db:
        await plans.save_custom_plan(
            db,
            settings=world.settings.plans,
            spec=PlanSpec(
                key="acme-deal", name="Acme deal", price_krw=123_456, monthly_quota=2_000_000
            ),
            actor=service.SYSTEM,
        )
        await db.commit()
    (org,) = await subscribe(world, 1)
    async with world.sessions() as db:
        sub = await db.get(Subscription, org.id)
        assert sub is not None
        sub.plan, sub.amount = "acme-deal", 123_456
        await db.commit()
    assert (await world.run(NOW)).charged == 1
    (payment,) = world.toss.payments.values()
    assert payment["totalAmount"] == 123_456 and payment["vat"] == 11_223
    async with world.sessions() as db:
        assert await plans.assigned_key(db, world.settings.plans, org.id) == "acme-deal"
        invoice = await db.scalar(sa.select(Invoice))
        assert invoice is not None and (invoice.supply, invoice.vat) == (112_233, 11_223)


async def test_one_orgs_toss_error_does_not_stop_the_run(world: World) -> None:
    """A request Toss refuses for one org (its billing key gone) is logged and left for the next
    run; the other orgs are charged. Toss unreachable is the same kind of error, not a decline."""
    await subscribe(world, 3)
    gone = sorted(world.toss.billing)[0]
    del world.toss.billing[gone]
    run = await world.run(NOW)
    assert (run.charged, run.errors, run.declined) == (2, 1, 0)
    async with world.sessions() as db:
        statuses = sorted((await db.scalars(sa.select(Subscription.status))).all())
    assert statuses == ["active"] * 3  # nobody dunned for Toss's refusal
    offline = TossClient(BillingSettings(toss_api_url="http://127.0.0.1:9", toss_secret_key="x"))
    try:
        with pytest.raises(service.TossError) as unreachable:
            await offline.get_payment("tgen_x")
        assert unreachable.value.status == 503 and not unreachable.value.declined
    finally:
        await offline.close()
