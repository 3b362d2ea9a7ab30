"""Subscriptions and the monthly charge run (docs/usage-and-billing.md, Billing).

A period is charged at most once: its charge row (order id, idempotency key) is committed before
Toss is called, and the key changes only after a decline has been recorded, so a run killed after
Toss charged asks again with the same key and gets the same payment back.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from haechi.core.crypto import Keyring
from haechi.platform.billing.models import Charge, Subscription
from haechi.platform.billing.providers.toss import Payment, TossClient, TossError

BILLING_KEY_PURPOSE = "billing-key"
# Days after a declined renewal at which it is tried again; after the last, the org is
# downgraded to the free plan (and its sites stay protected).
RETRY_DAYS = (1, 3, 5)
FREE_PLAN = "free"

Fault = Callable[[str], None]


def _no_fault(step: str) -> None:
    return None


def period_of(when: datetime) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def add_month(when: datetime) -> datetime:
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


async def subscribe(
    db: AsyncSession,
    *,
    org_id: uuid.UUID,
    client: TossClient,
    keyring: Keyring,
    auth_key: str,
    customer_key: str,
    plan: str,
    amount: int,
    now: datetime,
) -> Subscription:
    """Turn the card-registration redirect's ``authKey`` into a sealed billing key and start a
    subscription due ``now``. The caller commits."""
    issued = await client.issue_billing_key(auth_key=auth_key, customer_key=customer_key)
    sub = Subscription(
        org_id=org_id,
        customer_key=customer_key,
        billing_key=keyring.seal(BILLING_KEY_PURPOSE, issued.billing_key.encode()),
        card_company=issued.card_company,
        card_number=issued.card_number,
        plan=plan,
        amount=amount,
        status="active",
        renews_at=now,
        next_charge_at=now,
        created_at=now,
    )
    db.add(sub)
    return sub


@dataclass
class ChargeRun:
    charged: int = 0
    declined: int = 0
    downgraded: int = 0
    already: int = 0


async def charge_due(
    *,
    sessions: async_sessionmaker[AsyncSession],
    client: TossClient,
    keyring: Keyring,
    now: datetime,
    fault: Fault = _no_fault,
) -> ChargeRun:
    """Charge every subscription due by ``now``, one org per transaction."""
    async with sessions() as db:
        due = (
            await db.scalars(
                sa.select(Subscription.org_id)
                .where(
                    Subscription.status.in_(("active", "past_due")),
                    Subscription.next_charge_at <= now,
                )
                .order_by(Subscription.org_id)
            )
        ).all()
    run = ChargeRun()
    for org_id in due:
        await _charge_one(sessions, client, keyring, org_id, now, run, fault)
    return run


async def _charge_row(db: AsyncSession, sub: Subscription, period: str, now: datetime) -> Charge:
    found = await db.scalar(
        sa.select(Charge).where(Charge.org_id == sub.org_id, Charge.period == period)
    )
    if found is not None:
        return found
    compact = period.replace("-", "")
    charge = Charge(
        org_id=sub.org_id,
        period=period,
        order_id=f"haechi-{compact}-{sub.org_id.hex}",
        idempotency_key=f"haechi-{sub.org_id.hex}-{compact}",
        amount=sub.amount,
        status="pending",
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    db.add(charge)
    return charge


async def _charge_one(
    sessions: async_sessionmaker[AsyncSession],
    client: TossClient,
    keyring: Keyring,
    org_id: uuid.UUID,
    now: datetime,
    run: ChargeRun,
    fault: Fault,
) -> None:
    async with sessions() as db:
        sub = await db.get(Subscription, org_id)
        if sub is None or sub.status == "canceled" or sub.next_charge_at > now:
            return
        period = period_of(sub.renews_at)
        try:
            charge = await _charge_row(db, sub, period, now)
            await db.commit()
        except IntegrityError:  # another run recorded it first
            await db.rollback()
            sub = await db.get(Subscription, org_id)
            if sub is None:
                return
            charge = await _charge_row(db, sub, period, now)
        fault("recorded")
        if charge.status not in ("pending", "failed"):
            # Paid (or paid and refunded since, as a webhook told): the period is settled.
            run.already += 1
            sub.renews_at = sub.next_charge_at = add_month(sub.renews_at)
            await db.commit()
            return
        payment: Payment | None = None
        declined: TossError | None = None
        try:
            payment = await client.charge(
                billing_key=keyring.open(BILLING_KEY_PURPOSE, sub.billing_key).decode(),
                customer_key=sub.customer_key,
                amount=charge.amount,
                order_id=charge.order_id,
                order_name=f"Haechi {sub.plan} {period}",
                # A new key per recorded attempt: Toss replays a key's first answer for 15 days.
                idempotency_key=f"{charge.idempotency_key}-{charge.attempts}",
            )
        except TossError as error:
            if error.code == "DUPLICATED_ORDER_ID":
                # Charged under an older key (its replay window passed): the payment exists.
                payment = await client.get_payment_by_order(charge.order_id)
            elif error.declined:
                declined = error
            else:
                raise
        fault("charged")
        charge.attempts += 1
        charge.updated_at = now
        if payment is not None:
            charge.status, charge.payment_key, charge.failure_code = (
                "done",
                payment.payment_key,
                None,
            )
            sub.status = "active"
            sub.renews_at = sub.next_charge_at = add_month(sub.renews_at)
            run.charged += 1
        elif declined is not None:
            charge.status, charge.failure_code = "failed", declined.code
            run.declined += 1
            if charge.attempts > len(RETRY_DAYS):
                sub.status, sub.plan = "canceled", FREE_PLAN
                run.downgraded += 1
            else:
                sub.status = "past_due"
                # Retries count from the renewal date; a late run retries a day later.
                retry_at = sub.renews_at + timedelta(days=RETRY_DAYS[charge.attempts - 1])
                sub.next_charge_at = retry_at if retry_at > now else now + timedelta(days=1)
        await db.commit()


# Toss payment status -> what a charge becomes; other statuses change nothing.
_CHARGE_STATUS = {
    "DONE": "done",
    "CANCELED": "refunded",
    "PARTIAL_CANCELED": "partially_refunded",
}


async def apply_payment_event(db: AsyncSession, *, client: TossClient, payment_key: str) -> bool:
    """A webhook named ``payment_key``: webhooks carry no signature, so the payment is fetched
    back from Toss and the charge set to what Toss says now. Duplicates, late and out-of-order
    deliveries therefore change nothing twice. Returns whether the charge changed; the caller
    commits."""
    payment = await client.get_payment(payment_key)
    charge = await db.scalar(sa.select(Charge).where(Charge.order_id == payment.order_id))
    status = _CHARGE_STATUS.get(payment.status)
    if charge is None or status is None or charge.status == status:
        return False
    if charge.status != "done" and status == "done":
        # Charged, but the run that asked was lost before recording it: the next run's
        # look-up finds the charge done and moves the subscription on.
        charge.payment_key = payment.payment_key
    charge.status = status
    return True
