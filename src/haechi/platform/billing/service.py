"""Subscriptions, plan changes, credits, invoices and the monthly charge run
(docs/usage-and-billing.md, Billing).

A period is charged at most once: its charge row (order id, idempotency key, amount, line
items, credit used) is committed before Toss is called, and the key changes only after a decline
has been recorded, so a run killed after Toss charged asks again with the same key and gets the
same payment back. Whatever marks a charge paid issues its invoice in the same transaction: the
invoice number comes from a counter row locked in that transaction, so numbers have no gaps.

Money is KRW, VAT included (Korea, 10 %): ``vat = round(total / 11)`` half up in whole won,
``supply = total - vat``.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from haechi.core.crypto import Keyring
from haechi.core.db import write_session
from haechi.core.errors import Conflict, HaechiError, Invalid, NotFound, Unavailable
from haechi.core.jobs.runner import JobRunner
from haechi.core.settings import Settings
from haechi.platform import txn
from haechi.platform.accounts.models import User
from haechi.platform.audit import service as audit
from haechi.platform.billing.models import Charge, Credit, Invoice, InvoiceCounter, Subscription
from haechi.platform.billing.providers.toss import Payment, TossClient, TossError
from haechi.platform.email import service as email
from haechi.platform.orgs.models import Membership, Organisation
from haechi.platform.plans import service as plans
from haechi.platform.sites.models import Site
from haechi.platform.usage.models import UsageDaily

log = logging.getLogger(__name__)
BILLING_KEY_PURPOSE = "billing-key"
# Days after a declined renewal at which it is tried again; after the last, the org is
# downgraded to the default (free) plan, and its sites stay protected.
RETRY_DAYS = (1, 3, 5)
FREE_PLAN = "free"
# An upgrade charge still pending this long after it was recorded was lost by its request.
LOST_AFTER = timedelta(minutes=10)
KST = timezone(timedelta(hours=9))
SYSTEM = audit.Actor(type="system", id="billing")

# problem+json codes (docs/usage-and-billing.md)
DECLINED = "payment-declined"
NO_SUBSCRIPTION = "no-subscription"
PAST_DUE = "subscription-past-due"
BILLING_OFF = "billing-disabled"

Fault = Callable[[str], None]


def _no_fault(step: str) -> None:
    return None


class PaymentDeclined(HaechiError):
    """The card was refused; ``toss_code`` is Toss's code (REJECT_CARD_COMPANY, …)."""

    status = 402
    code = DECLINED

    def __init__(self, error: TossError) -> None:
        super().__init__(f"the card was declined: {error.message} ({error.code})")
        self.toss_code = error.code


@dataclass
class Billing:
    """What billing code needs besides a session: the Toss client, the keyring that seals
    billing keys, the settings (plans, invoice seller, public URL), the job runner for mail."""

    client: TossClient
    keyring: Keyring
    settings: Settings
    jobs: JobRunner | None = None
    fault: Fault = _no_fault


def period_of(when: datetime) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def add_month(when: datetime) -> datetime:
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def split_vat(total: int) -> tuple[int, int]:
    """(supply value, VAT) of a VAT-included KRW amount: VAT is total/11 rounded half up."""
    vat = (total + 5) // 11
    return total - vat, vat


def customer_key(pepper: bytes, org_id: uuid.UUID) -> str:
    """The org's Toss customerKey: an HMAC of its id, so it cannot be guessed (as Toss asks)
    and needs no storage before the card is registered."""
    mac = hmac.new(pepper, b"toss-customer:" + org_id.bytes, hashlib.sha256).hexdigest()
    return "cus_" + mac[:40]


def prorate(difference: int, remaining: timedelta, period: timedelta) -> int:
    """``difference`` x remaining / period in whole won, rounded half up."""
    rem, total = int(remaining.total_seconds()), int(period.total_seconds())
    if difference <= 0 or rem <= 0 or total <= 0:
        return 0
    rem = min(rem, total)
    return (2 * difference * rem + total) // (2 * total)


async def _plan(db: AsyncSession, settings: Settings, key: str) -> plans.Plan:
    plan = await plans.get_plan(db, settings.plans, key)
    if plan is None:
        raise NotFound(f"no plan {key!r}", code=plans.UNKNOWN_PLAN)
    return plan


async def _assign(db: AsyncSession, ctx: Billing, org_id: uuid.UUID, key: str) -> None:
    if await plans.assigned_key(db, ctx.settings.plans, org_id) != key:
        await plans.assign_plan(
            db, settings=ctx.settings.plans, org_id=org_id, plan_key=key, actor=SYSTEM
        )


# ---------------------------------------------------------------------------- credits


async def credit_balance(db: AsyncSession, org_id: uuid.UUID) -> int:
    total = await db.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Credit.amount), 0)).where(Credit.org_id == org_id)
    )
    return int(total or 0)


async def grant_credit(
    db: AsyncSession,
    *,
    org_id: uuid.UUID,
    amount: int,
    reason: str,
    actor: audit.Actor,
    now: datetime,
) -> Credit:
    """An operator's grant (or, negative, a correction down to zero), applied to the next
    invoices; audited as ``billing.credit-grant``. The caller commits."""
    if amount == 0 or not reason.strip():
        raise Invalid("a credit needs a non-zero amount and a reason")
    if await db.get(Organisation, org_id) is None:
        raise NotFound("no such organisation")
    balance = await credit_balance(db, org_id)
    if balance + amount < 0:
        raise Conflict(f"the balance is {balance} KRW", code="credit-below-zero")
    credit = Credit(
        org_id=org_id,
        amount=amount,
        reason=reason.strip()[:200],
        actor=f"{actor.type}:{actor.id or ''}"[:80],
        created_at=now,
    )
    db.add(credit)
    await db.flush()
    await audit.record(
        db,
        actor=actor,
        action="billing.credit-grant",
        org_id=org_id,
        target_type="credit",
        target_id=credit.id,
        after={"amount": amount, "reason": credit.reason, "balance": balance + amount},
    )
    return credit


async def _use_credit(db: AsyncSession, charge: Charge, gross: int, now: datetime) -> None:
    """Take what the balance allows off ``gross``; the ledger row is in the charge's
    transaction."""
    use = min(max(await credit_balance(db, charge.org_id), 0), gross)
    charge.credit_applied = use
    charge.amount = gross - use
    if use:
        db.add(
            Credit(
                org_id=charge.org_id,
                amount=-use,
                reason=f"applied to {charge.order_id}",
                charge_id=charge.id,
                created_at=now,
            )
        )
        charge.lines = [
            *(charge.lines or []),
            {"kind": "credit", "description": "Credit applied", "amount": -use},
        ]


async def _release_credit(db: AsyncSession, charge: Charge, now: datetime) -> None:
    """A charge that will never be paid gives its credit back."""
    if charge.credit_applied:
        db.add(
            Credit(
                org_id=charge.org_id,
                amount=charge.credit_applied,
                reason=f"returned from {charge.order_id}",
                charge_id=charge.id,
                created_at=now,
            )
        )
        charge.credit_applied = 0


# ---------------------------------------------------------------------------- invoices


async def _next_number(db: AsyncSession, prefix: str, now: datetime) -> str:
    """The next number of this year's series, taken under the counter row's lock."""
    series = f"{prefix}-{now.astimezone(KST).year}"
    row = await db.get(InvoiceCounter, series, with_for_update=True)
    if row is None:
        try:
            async with db.begin_nested():
                db.add(InvoiceCounter(series=series, last=0))
        except IntegrityError:
            pass
        row = await db.get(InvoiceCounter, series, with_for_update=True, populate_existing=True)
        assert row is not None
    row.last += 1
    await db.flush()
    return f"{series}-{row.last:06d}"


async def _issue_invoice(db: AsyncSession, ctx: Billing, charge: Charge, now: datetime) -> None:
    """The paid charge's invoice, once (unique per charge)."""
    if await db.scalar(sa.select(Invoice.id).where(Invoice.charge_id == charge.id)) is not None:
        return
    org = await db.get(Organisation, charge.org_id)
    total = charge.amount
    supply, vat = split_vat(total)
    db.add(
        Invoice(
            org_id=charge.org_id,
            charge_id=charge.id,
            number=await _next_number(db, ctx.settings.billing.invoice_prefix, now),
            org_name=org.name if org is not None else "",
            currency="KRW",
            total=total,
            supply=supply,
            vat=vat,
            lines=list(charge.lines or [{"kind": "plan", "description": "", "amount": total}]),
            status="paid",
            issued_at=now,
        )
    )
    await db.flush()


# ---------------------------------------------------------------------------- mail


async def _mail_owners(
    db: AsyncSession, ctx: Billing, org_id: uuid.UUID, template: str, values: dict[str, str]
) -> int:
    org = await db.get(Organisation, org_id)
    owners = (
        await db.execute(
            sa.select(User.email, User.locale)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org_id, Membership.role == "owner")
            .order_by(User.email)
        )
    ).all()
    url = f"{ctx.settings.platform.public_url.rstrip('/')}/orgs/{org_id}/billing"
    for address, locale in owners:
        await email.queue(
            db,
            jobs=ctx.jobs,
            to=address,
            template=template,
            locale=locale,
            values={"org": org.name if org is not None else "", "url": url, **values},
        )
    return len(owners)


# ---------------------------------------------------------------------------- subscribe


async def subscribe(
    db: AsyncSession,
    ctx: Billing,
    *,
    org_id: uuid.UUID,
    auth_key: str,
    customer_key: str,
    plan_key: str,
    now: datetime,
) -> Subscription:
    """The card-registration redirect's ``authKey`` becomes a sealed billing key. Without a
    live subscription one starts on ``plan_key`` and is charged now; with one, only the card
    changes (a past-due renewal is tried again at once). Commits."""
    sub = await db.get(Subscription, org_id)
    live = sub is not None and sub.status in ("active", "past_due")
    plan = None if live else await _plan(db, ctx.settings, plan_key)
    if plan is not None and plan.price_krw <= 0:
        raise Invalid(f"the plan {plan_key!r} is free: it needs no card", code="plan-is-free")
    try:
        issued = await ctx.client.issue_billing_key(auth_key=auth_key, customer_key=customer_key)
    except TossError as error:
        if error.status >= 500 or error.status == 401:
            raise Unavailable("Toss could not be asked; try again") from None
        raise Invalid(f"Toss refused the card: {error.message} ({error.code})") from None
    sealed = ctx.keyring.seal(BILLING_KEY_PURPOSE, issued.billing_key.encode())
    if sub is None:
        sub = Subscription(org_id=org_id, created_at=now)
        db.add(sub)
    sub.customer_key = customer_key
    sub.billing_key = sealed
    sub.card_company = issued.card_company
    sub.card_number = issued.card_number
    if plan is not None:
        sub.plan, sub.amount, sub.status = plan.key, plan.price_krw, "active"
        sub.renews_at = sub.next_charge_at = now
        sub.period_start, sub.pending_plan, sub.cancel_at_period_end = None, None, False
    elif sub.status == "past_due":
        sub.next_charge_at = now
    await txn.commit(db)
    if plan is None and sub.status != "past_due":
        return sub
    outcome = await charge_subscription(db, ctx, org_id, now, first=plan is not None)
    if isinstance(outcome, TossError):
        raise PaymentDeclined(outcome)
    return sub


# ---------------------------------------------------------------------------- plan changes


@dataclass
class PlanChange:
    effective: str  # "now" | "renewal" | "unchanged"
    charged: int  # KRW charged now (after credit)
    charge_id: uuid.UUID | None = None


async def change_plan(
    db: AsyncSession, ctx: Billing, *, org_id: uuid.UUID, plan_key: str, now: datetime
) -> PlanChange:
    """An upgrade takes effect now and charges the price difference for the rest of the paid
    period (prorated by the second, whole won, half up); a downgrade takes effect at the renewal,
    with no refund or credit for the current period. Asking for the current plan undoes a
    scheduled downgrade. Commits."""
    sub = await db.get(Subscription, org_id, with_for_update=True)
    if sub is None or sub.status == "canceled":
        raise Conflict("there is no subscription: register a card first", code=NO_SUBSCRIPTION)
    await settle_upgrades(db, ctx, sub, now)
    in_flight = await db.scalar(
        sa.select(Charge.id).where(
            Charge.org_id == org_id, Charge.kind == "upgrade", Charge.status == "pending"
        )
    )
    if in_flight is not None:
        raise Conflict(
            "another plan change is in progress; try again", code="plan-change-in-progress"
        )
    new = await _plan(db, ctx.settings, plan_key)
    if new.key == sub.plan:
        sub.pending_plan = None
        await txn.commit(db)
        return PlanChange("unchanged", 0)
    if new.price_krw <= sub.amount:
        sub.pending_plan = new.key
        await txn.commit(db)
        return PlanChange("renewal", 0)
    if sub.status != "active" or sub.period_start is None:
        raise Conflict("the last renewal is not paid yet", code=PAST_DUE)
    old = await plans.get_plan(db, ctx.settings.plans, sub.plan)
    amount = prorate(
        new.price_krw - sub.amount, sub.renews_at - now, sub.renews_at - sub.period_start
    )
    days = max(0, (sub.renews_at - now).days)
    total_days = (sub.renews_at - sub.period_start).days
    base = period_of(sub.period_start)
    count = await db.scalar(
        sa.select(sa.func.count())
        .select_from(Charge)
        .where(Charge.org_id == org_id, Charge.kind == "upgrade", Charge.period.like(base + "+%"))
    )
    n = int(count or 0) + 1
    compact = base.replace("-", "")
    charge = Charge(
        id=uuid.uuid4(),
        org_id=org_id,
        period=f"{base}+u{n}",
        kind="upgrade",
        plan=new.key,
        order_id=f"haechi-{compact}-{org_id.hex}-u{n}",
        idempotency_key=f"haechi-{org_id.hex}-{compact}-u{n}",
        amount=amount,
        status="pending",
        attempts=0,
        lines=[
            {
                "kind": "proration",
                "description": (
                    f"{old.name if old else sub.plan} -> {new.name}: "
                    f"{days} of {total_days} days prorated"
                ),
                "amount": amount,
            }
        ],
        created_at=now,
        updated_at=now,
    )
    db.add(charge)
    try:
        await db.flush()
    except IntegrityError:  # another change of this org's plan took the number
        await db.rollback()
        raise Conflict(
            "another plan change is in progress; try again", code="plan-change-in-progress"
        ) from None
    await _use_credit(db, charge, amount, now)
    await txn.commit(db)
    ctx.fault("upgrade-recorded")
    payment: Payment | None = None
    if charge.amount > 0:
        try:
            payment = await _toss_charge(ctx, sub, charge, f"Haechi {new.name} upgrade")
        except TossError as error:
            if not error.declined:
                raise Unavailable("Toss could not be asked; try again") from None
            await write_session(db)
            charge.status, charge.failure_code = "failed", error.code
            charge.attempts += 1
            await _release_credit(db, charge, now)
            await txn.commit(db)
            raise PaymentDeclined(error) from None
    ctx.fault("upgrade-charged")
    await write_session(db)
    charge.attempts += 1
    charge.status = "done"
    charge.payment_key = payment.payment_key if payment is not None else None
    await _upgraded(db, ctx, sub, charge, now)
    await txn.commit(db)
    return PlanChange("now", charge.amount, charge.id)


async def _upgraded(
    db: AsyncSession, ctx: Billing, sub: Subscription, charge: Charge, now: datetime
) -> None:
    plan = await plans.get_plan(db, ctx.settings.plans, charge.plan or sub.plan)
    if plan is not None:
        sub.plan, sub.amount, sub.pending_plan = plan.key, plan.price_krw, None
        await _assign(db, ctx, sub.org_id, plan.key)
    await _issue_invoice(db, ctx, charge, now)


async def settle_upgrades(db: AsyncSession, ctx: Billing, sub: Subscription, now: datetime) -> None:
    """Finish upgrade charges a lost request left behind (pending for ``LOST_AFTER``): one Toss
    charged (found by order id, or marked done by a webhook) switches the plan and is
    invoiced; one Toss never charged is failed and gives its credit back."""
    rows = (
        await db.scalars(
            sa.select(Charge).where(
                Charge.org_id == sub.org_id,
                Charge.kind == "upgrade",
                Charge.status.in_(("pending", "done")),
            )
        )
    ).all()
    for charge in rows:
        if charge.status == "pending" and charge.created_at > now - LOST_AFTER:
            continue  # a request may be asking Toss right now
        if charge.status == "done":
            if await db.scalar(sa.select(Invoice.id).where(Invoice.charge_id == charge.id)):
                continue
            await _upgraded(db, ctx, sub, charge, now)
            continue
        if charge.amount <= 0:
            charge.status = "done"
            await _upgraded(db, ctx, sub, charge, now)
            continue
        try:
            payment = await ctx.client.get_payment_by_order(charge.order_id)
        except TossError as error:
            if error.status != 404:
                raise Unavailable("Toss could not be asked; try again") from None
            charge.status, charge.failure_code = "failed", "LOST_BEFORE_CHARGE"
            await _release_credit(db, charge, now)
            continue
        charge.status, charge.payment_key = "done", payment.payment_key
        await _upgraded(db, ctx, sub, charge, now)
    await db.flush()


async def _toss_charge(ctx: Billing, sub: Subscription, charge: Charge, name: str) -> Payment:
    try:
        return await ctx.client.charge(
            billing_key=ctx.keyring.open(BILLING_KEY_PURPOSE, sub.billing_key).decode(),
            customer_key=sub.customer_key,
            amount=charge.amount,
            order_id=charge.order_id,
            order_name=name,
            # A new key per recorded attempt: Toss replays a key's first answer for 15 days.
            idempotency_key=f"{charge.idempotency_key}-{charge.attempts}",
        )
    except TossError as error:
        if error.code == "DUPLICATED_ORDER_ID":
            # Charged under an older key (its replay window passed): the payment exists.
            return await ctx.client.get_payment_by_order(charge.order_id)
        raise


async def cancel(
    db: AsyncSession, *, org_id: uuid.UUID, at_period_end: bool = True
) -> Subscription:
    """Cancel at the end of the paid period (``at_period_end=False`` undoes it). The caller
    commits."""
    sub = await db.get(Subscription, org_id)
    if sub is None or sub.status == "canceled":
        raise Conflict("there is no subscription", code=NO_SUBSCRIPTION)
    sub.cancel_at_period_end = at_period_end
    return sub


# ---------------------------------------------------------------------------- refunds


async def refund(
    db: AsyncSession,
    ctx: Billing,
    *,
    charge_id: uuid.UUID,
    reason: str,
    amount: int | None,
    actor: audit.Actor,
) -> Charge:
    """Cancel (all or ``amount`` of) a paid charge at Toss (``POST /v1/payments/{key}/cancel``)
    and mark the charge and its invoice; audited as ``billing.refund``. Commits."""
    charge = await db.get(Charge, charge_id, with_for_update=True)
    if charge is None:
        raise NotFound("no such charge")
    if charge.payment_key is None or charge.status not in ("done", "partially_refunded"):
        raise Conflict("only a paid charge can be refunded", code="not-refundable")
    if amount is not None and amount <= 0:
        raise Invalid("the amount must be positive")
    try:
        before = await ctx.client.get_payment(charge.payment_key)
        done = len(before.raw.get("cancels") or [])
        payment = await ctx.client.cancel(
            charge.payment_key,
            reason=reason,
            amount=amount,
            idempotency_key=f"haechi-refund-{charge.id.hex}-{done}",
        )
    except TossError as error:
        if error.status >= 500:
            raise Unavailable("Toss could not be asked; try again") from None
        raise Conflict(f"Toss refused: {error.message}", code=error.code.lower()) from None
    status = _CHARGE_STATUS.get(payment.status, charge.status)
    before_status, charge.status = charge.status, status
    invoice = await db.scalar(sa.select(Invoice).where(Invoice.charge_id == charge.id))
    if invoice is not None and status in ("refunded", "partially_refunded"):
        invoice.status = status
    await audit.record(
        db,
        actor=actor,
        action="billing.refund",
        org_id=charge.org_id,
        target_type="charge",
        target_id=charge.id,
        before={"status": before_status},
        after={"status": status, "refunded": payment.total_amount - payment.balance_amount},
    )
    await txn.commit(db)
    return charge


# ---------------------------------------------------------------------------- the charge run


@dataclass
class ChargeRun:
    charged: int = 0
    declined: int = 0
    downgraded: int = 0
    already: int = 0
    ended: int = 0
    errors: int = 0


async def charge_due(
    *,
    sessions: async_sessionmaker[AsyncSession],
    ctx: Billing,
    now: datetime,
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
        try:
            async with sessions() as db:
                outcome = await charge_subscription(db, ctx, org_id, now)
        except (TossError, HaechiError) as error:
            # Toss unreachable or refusing the request (not the card): this org waits for the
            # next run with its charge row as it was; the others go on.
            log.warning("billing: charging org %s failed: %s", org_id, error)
            run.errors += 1
            continue
        if isinstance(outcome, TossError):
            run.declined += 1
            if outcome.code == "_downgraded":
                run.downgraded += 1
        elif outcome in ("charged", "already", "ended"):
            setattr(run, outcome, getattr(run, outcome) + 1)
    return run


async def _overage_line(
    db: AsyncSession, ctx: Billing, org_id: uuid.UUID, plan_key: str, renewal: datetime
) -> dict[str, Any] | None:
    """With ``plans.over_quota = "overage"``: the verified tokens over the plan's quota in the
    last whole UTC month before the renewal's month, billed per started 1,000 at the plan's
    rate. Each month is billed by one renewal only (one renewal per period)."""
    settings = ctx.settings.plans
    if not settings.enabled or settings.over_quota != "overage":
        return None
    plan = await plans.get_plan(db, settings, plan_key)
    if plan is None or plan.monthly_quota is None or plan.overage_krw_per_1000 <= 0:
        return None
    end = renewal.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    used = await db.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(UsageDaily.count), 0))
        .join(Site, Site.sitekey == UsageDaily.sitekey)
        .where(
            Site.org_id == org_id,
            UsageDaily.event == "verifies",
            UsageDaily.day >= start.date(),
            UsageDaily.day < end.date(),
        )
    )
    over = int(used or 0) - plan.monthly_quota
    if over <= 0:
        return None
    amount = -(-over // 1000) * plan.overage_krw_per_1000
    return {
        "kind": "overage",
        "description": (
            f"Overage {period_of(start)}: {over:,} verified tokens over {plan.monthly_quota:,}"
        ),
        "amount": amount,
    }


async def _renewal_row(
    db: AsyncSession,
    ctx: Billing,
    sub: Subscription,
    period: str,
    now: datetime,
    overage: dict[str, Any] | None = None,
) -> Charge:
    found = await db.scalar(
        sa.select(Charge).where(Charge.org_id == sub.org_id, Charge.period == period)
    )
    plan = await plans.get_plan(db, ctx.settings.plans, sub.plan)
    name = plan.name if plan is not None else sub.plan
    line: dict[str, Any] = {"kind": "plan", "description": f"{name} {period}", "amount": sub.amount}
    if found is not None:
        if found.status == "failed" and found.plan != sub.plan:
            # A new subscription in a period whose renewal failed: the next try is a new key.
            await _release_credit(db, found, now)
            found.plan, found.lines = sub.plan, [line]
            await _use_credit(db, found, sub.amount, now)
        return found
    compact = period.replace("-", "")
    lines = [line, overage] if overage is not None else [line]
    gross = sum(int(x["amount"]) for x in lines)
    charge = Charge(
        id=uuid.uuid4(),
        org_id=sub.org_id,
        period=period,
        kind="renewal",
        plan=sub.plan,
        order_id=f"haechi-{compact}-{sub.org_id.hex}",
        idempotency_key=f"haechi-{sub.org_id.hex}-{compact}",
        amount=gross,
        status="pending",
        attempts=0,
        lines=lines,
        created_at=now,
        updated_at=now,
    )
    db.add(charge)
    await db.flush()
    await _use_credit(db, charge, gross, now)
    return charge


async def _end(db: AsyncSession, ctx: Billing, sub: Subscription) -> None:
    sub.status, sub.cancel_at_period_end, sub.pending_plan = "canceled", False, None
    sub.plan, sub.amount = ctx.settings.plans.default_plan, 0
    await _assign(db, ctx, sub.org_id, ctx.settings.plans.default_plan)


def _paid(sub: Subscription) -> None:
    sub.status = "active"
    sub.period_start = sub.renews_at
    sub.renews_at = sub.next_charge_at = add_month(sub.renews_at)


async def charge_subscription(
    db: AsyncSession, ctx: Billing, org_id: uuid.UUID, now: datetime, *, first: bool = False
) -> str | TossError:
    """Charge the org's due renewal: "charged", "already" (settled before), "ended"
    (cancelled at period end), "skipped", or the decline (code "_downgraded" after the last
    retry). ``first``: the charge that starts a subscription; a decline ends it at once."""
    await write_session(db)
    sub = await db.get(Subscription, org_id)
    if sub is None or sub.status == "canceled" or sub.next_charge_at > now:
        return "skipped"
    await settle_upgrades(db, ctx, sub, now)
    period = period_of(sub.renews_at)
    existing = await db.scalar(
        sa.select(Charge.id).where(Charge.org_id == org_id, Charge.period == period)
    )
    overage = None
    if existing is None:
        if not first:
            # the plan of the month that ended, before a scheduled downgrade applies
            overage = await _overage_line(db, ctx, org_id, sub.plan, sub.renews_at)
        if sub.cancel_at_period_end:
            await _end(db, ctx, sub)
            await txn.commit(db)
            return "ended"
        if sub.pending_plan is not None:
            plan = await plans.get_plan(db, ctx.settings.plans, sub.pending_plan)
            sub.pending_plan = None
            if plan is None or plan.price_krw <= 0:
                await _end(db, ctx, sub)
                await txn.commit(db)
                return "ended"
            sub.plan, sub.amount = plan.key, plan.price_krw
    try:
        charge = await _renewal_row(db, ctx, sub, period, now, overage)
        await txn.commit(db)
    except IntegrityError:  # another run recorded it first
        await db.rollback()
        await write_session(db)
        sub = await db.get(Subscription, org_id, populate_existing=True)
        if sub is None:
            return "skipped"
        charge = await _renewal_row(db, ctx, sub, period, now)
    ctx.fault("recorded")
    if charge.status not in ("pending", "failed"):
        # Paid (or paid and refunded since, as a webhook told): the period is settled.
        await write_session(db)
        _paid(sub)
        await _assign(db, ctx, org_id, sub.plan)
        if charge.status == "done":
            await _issue_invoice(db, ctx, charge, now)
        await txn.commit(db)
        return "already"
    payment: Payment | None = None
    declined: TossError | None = None
    if charge.amount > 0:
        try:
            payment = await _toss_charge(ctx, sub, charge, f"Haechi {sub.plan} {period}")
        except TossError as error:
            if not error.declined:
                raise
            declined = error
    ctx.fault("charged")
    await write_session(db)
    charge.attempts += 1
    charge.updated_at = now
    if declined is None:
        charge.status, charge.failure_code = "done", None
        charge.payment_key = payment.payment_key if payment is not None else None
        _paid(sub)
        await _assign(db, ctx, org_id, sub.plan)
        await _issue_invoice(db, ctx, charge, now)
        await txn.commit(db)
        return "charged"
    charge.status, charge.failure_code = "failed", declined.code
    values = {
        "amount": f"{charge.amount:,}",
        "code": declined.code,
        "reason": declined.message,
        "attempt": str(charge.attempts),
        "attempts": str(len(RETRY_DAYS) + 1),
    }
    if first or charge.attempts > len(RETRY_DAYS):
        await _release_credit(db, charge, now)
        was = sub.plan
        await _end(db, ctx, sub)
        if not first:
            await _mail_owners(db, ctx, org_id, "billing-downgraded", {**values, "plan": was})
        await audit.record(
            db,
            actor=SYSTEM,
            action="billing.downgrade" if not first else "billing.first-charge-declined",
            org_id=org_id,
            target_type="charge",
            target_id=charge.id,
            after={"code": declined.code, "plan": was},
        )
        await txn.commit(db)
        return TossError(402, declined.code if first else "_downgraded", declined.message, None)
    sub.status = "past_due"
    # Retries count from the renewal date; a late run retries a day later.
    retry_at = sub.renews_at + timedelta(days=RETRY_DAYS[charge.attempts - 1])
    sub.next_charge_at = retry_at if retry_at > now else now + timedelta(days=1)
    retry_kst = sub.next_charge_at.astimezone(KST)
    await _mail_owners(
        db,
        ctx,
        org_id,
        "billing-payment-failed",
        {**values, "retry_at": retry_kst.strftime("%Y-%m-%d %H:%M KST")},
    )
    await txn.commit(db)
    return declined


# ---------------------------------------------------------------------------- webhooks


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
        # look-up finds the charge done and moves the subscription on (and invoices it).
        charge.payment_key = payment.payment_key
    charge.status = status
    invoice = await db.scalar(sa.select(Invoice).where(Invoice.charge_id == charge.id))
    if invoice is not None and status != "done":
        invoice.status = status
    return True


# ---------------------------------------------------------------------------- reads


async def history(db: AsyncSession, org_id: uuid.UUID, limit: int = 100) -> list[dict[str, Any]]:
    rows = (
        await db.execute(
            sa.select(Charge, Invoice)
            .outerjoin(Invoice, Invoice.charge_id == Charge.id)
            .where(Charge.org_id == org_id)
            .order_by(Charge.created_at.desc(), Charge.period.desc())
            .limit(limit)
        )
    ).all()
    return [{"charge": c, "invoice": i} for c, i in rows]
