"""/api/v1 billing routes (docs/usage-and-billing.md): an org's subscription, plan changes,
history, invoices (JSON, HTML, PDF) and credits (owners write, admins read); operators' credit
grants and refunds; and Toss's webhook (no signature: each event is verified by fetching the
payment back before anything changes)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow
from haechi.core.errors import Conflict, Invalid, NotFound
from haechi.platform import txn
from haechi.platform.audit import service as audit
from haechi.platform.billing import invoices, service
from haechi.platform.billing import schemas as s
from haechi.platform.billing.models import Charge, Credit, Invoice, Subscription
from haechi.platform.billing.providers.toss import TossClient, TossError
from haechi.platform.deps import (
    CurrentActor,
    CurrentOperator,
    DbSession,
    OrgAccess,
    RuntimeDep,
    require,
)
from haechi.platform.plans import service as plans
from haechi.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(tags=["billing"])
PAYMENT_EVENTS = frozenset({"PAYMENT_STATUS_CHANGED", "CANCEL_STATUS_CHANGED"})


@router.post("/billing/webhooks/toss", status_code=200, operation_id="billing_toss_webhook")
async def toss_webhook(request: Request, db: DbSession, runtime: RuntimeDep) -> Response:
    """Answers 200 once handled (or ignored), so Toss stops retrying; 503 when Toss could not
    be asked, so it delivers again later."""
    try:
        event: Any = await request.json()
    except ValueError:
        raise Invalid("the body is not JSON") from None
    if not isinstance(event, dict):
        raise Invalid("the body is not a JSON object")
    data = event.get("data")
    payment_key = data.get("paymentKey") if isinstance(data, dict) else None
    if event.get("eventType") not in PAYMENT_EVENTS or not isinstance(payment_key, str):
        return Response(status_code=200)
    settings = runtime.settings.billing
    if not settings.toss_secret_key:
        return Response(status_code=200)
    client = TossClient(settings)
    try:
        await service.apply_payment_event(db, client=client, payment_key=payment_key)
    except TossError as error:
        if error.status == 404:  # not a payment of this merchant
            return Response(status_code=200)
        log.warning("toss webhook: fetching %s failed: %s", payment_key, error)
        return Response(status_code=503)
    finally:
        await client.close()
    return Response(status_code=200)


# ---------------------------------------------------------------------------- subscriptions

BillingReader = Annotated[OrgAccess, require("billing:read")]
BillingWriter = Annotated[OrgAccess, require("billing:write")]


def _ctx(runtime: Runtime, client: TossClient) -> service.Billing:
    return service.Billing(
        client=client, keyring=runtime.keyring, settings=runtime.settings, jobs=runtime.jobs
    )


def _client(runtime: Runtime) -> TossClient:
    if not runtime.settings.billing.toss_secret_key:
        raise Conflict("billing is not configured on this server", code=service.BILLING_OFF)
    return TossClient(runtime.settings.billing)


async def _overview(db: AsyncSession, runtime: Runtime, org_id: uuid.UUID) -> s.BillingOverview:
    sub = await db.get(Subscription, org_id, populate_existing=True)
    plan = await plans.assigned_key(db, runtime.settings.plans, org_id)
    return s.BillingOverview(
        enabled=bool(runtime.settings.billing.toss_secret_key),
        plan=plan,
        subscription=(
            s.SubscriptionPublic(
                plan=sub.plan,
                amount=sub.amount,
                status=sub.status,
                card_company=sub.card_company,
                card_number=sub.card_number,
                renews_at=sub.renews_at,
                next_charge_at=sub.next_charge_at,
                period_start=sub.period_start,
                pending_plan=sub.pending_plan,
                cancel_at_period_end=sub.cancel_at_period_end,
            )
            if sub is not None
            else None
        ),
        credit_balance=await service.credit_balance(db, org_id),
    )


def _invoice(invoice: Invoice) -> s.InvoicePublic:
    return s.InvoicePublic(
        id=invoice.id,
        number=invoice.number,
        org_name=invoice.org_name,
        currency=invoice.currency,
        total=invoice.total,
        supply=invoice.supply,
        vat=invoice.vat,
        status=invoice.status,
        issued_at=invoice.issued_at,
        lines=s.lines(invoice.lines),
    )


def _charge(charge: Charge) -> s.ChargePublic:
    return s.ChargePublic(
        id=charge.id,
        period=charge.period,
        kind=charge.kind,
        plan=charge.plan,
        amount=charge.amount,
        credit_applied=charge.credit_applied,
        status=charge.status,
        failure_code=charge.failure_code,
        attempts=charge.attempts,
        created_at=charge.created_at,
        updated_at=charge.updated_at,
    )


@router.get("/orgs/{org_id}/billing", operation_id="billing_get")
async def get_billing(
    access: BillingReader, db: DbSession, runtime: RuntimeDep
) -> s.BillingOverview:
    """The org's plan, subscription (card, renewal, pending downgrade, cancellation) and
    credit balance. Owners and admins."""
    return await _overview(db, runtime, access.org.id)


@router.post(
    "/orgs/{org_id}/billing/card-registration",
    status_code=201,
    operation_id="billing_start_card_registration",
)
async def start_card_registration(
    body: s.CardRegistrationCreate, access: BillingWriter, db: DbSession, runtime: RuntimeDep
) -> s.CardRegistration:
    """What the dashboard opens Toss's card-registration (billing-auth) window with. Toss
    redirects to ``success_url`` with ``customerKey`` and ``authKey`` (then
    ``POST …/billing/subscription``), or to ``fail_url`` with ``code`` and ``message``."""
    settings = runtime.settings.billing
    if not settings.toss_secret_key:
        raise Conflict("billing is not configured on this server", code=service.BILLING_OFF)
    plan = await plans.get_plan(db, runtime.settings.plans, body.plan)
    if plan is None:
        raise NotFound(f"no plan {body.plan!r}", code=plans.UNKNOWN_PLAN)
    if plan.price_krw <= 0:
        raise Invalid(f"the plan {body.plan!r} is free: it needs no card", code="plan-is-free")
    org_id = access.org.id
    base = f"{runtime.settings.platform.public_url.rstrip('/')}/orgs/{org_id}/billing/card"
    fake = not settings.toss_api_url.startswith("https://api.tosspayments.com")
    return s.CardRegistration(
        customer_key=service.customer_key(runtime.pepper, org_id),
        client_key=settings.toss_client_key,
        success_url=f"{base}?result=success&plan={quote(body.plan)}",
        fail_url=f"{base}?result=fail&plan={quote(body.plan)}",
        registration_url=(
            settings.toss_api_url.rstrip("/") + "/fake/billing-auth" if fake else None
        ),
    )


@router.post(
    "/orgs/{org_id}/billing/subscription", status_code=201, operation_id="billing_subscribe"
)
async def subscribe(
    body: s.SubscriptionCreate,
    access: BillingWriter,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> s.BillingOverview:
    """The success redirect's ``authKey`` and ``customerKey``: the billing key is issued and
    sealed; without a live subscription one starts on ``plan`` and is charged now (402
    ``payment-declined`` when the card is refused); with one, the card is replaced. Owners."""
    org_id = access.org.id
    expected = service.customer_key(runtime.pepper, org_id)
    if not hmac.compare_digest(body.customer_key.encode(), expected.encode()):
        raise Invalid("customer_key is not this organisation's", code="customer-key-mismatch")
    client = _client(runtime)
    try:
        before = await db.get(Subscription, org_id)
        was_live = before is not None and before.status in ("active", "past_due")
        try:
            await service.subscribe(
                db,
                _ctx(runtime, client),
                org_id=org_id,
                auth_key=body.auth_key,
                customer_key=body.customer_key,
                plan_key=body.plan,
                now=utcnow(),
            )
        except service.PaymentDeclined as declined:
            await audit.record(
                db, actor=who, action="billing.subscribe-declined", org_id=org_id,
                target_type="org", target_id=org_id,
                after={"plan": body.plan, "code": declined.toss_code},
            )  # fmt: skip
            await txn.commit(db)
            raise
        overview = await _overview(db, runtime, org_id)
        await audit.record(
            db, actor=who, action="billing.card-change" if was_live else "billing.subscribe",
            org_id=org_id, target_type="org", target_id=org_id,
            after={"plan": overview.plan, "card": overview.subscription.card_number
                   if overview.subscription else None},
        )  # fmt: skip
        return overview
    finally:
        await client.close()


@router.post("/orgs/{org_id}/billing/subscription/plan", operation_id="billing_change_plan")
async def change_plan(
    body: s.PlanChangeCreate,
    access: BillingWriter,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> s.PlanChangeResult:
    """Upgrade now (the prorated difference is charged at once: 402 ``payment-declined`` leaves
    the plan as it was) or downgrade at the renewal. Owners."""
    org_id = access.org.id
    client = _client(runtime)
    try:
        before = await db.get(Subscription, org_id)
        plan_before = before.plan if before is not None else None
        result = await service.change_plan(
            db, _ctx(runtime, client), org_id=org_id, plan_key=body.plan, now=utcnow()
        )
    finally:
        await client.close()
    invoice_id = None
    if result.charge_id is not None:
        invoice_id = await db.scalar(
            sa.select(Invoice.id).where(Invoice.charge_id == result.charge_id)
        )
    await audit.record(
        db, actor=who, action="billing.plan-change", org_id=org_id, target_type="org",
        target_id=org_id, before={"plan": plan_before},
        after={"plan": body.plan, "effective": result.effective, "charged": result.charged},
    )  # fmt: skip
    return s.PlanChangeResult(
        effective=result.effective,
        charged=result.charged,
        invoice_id=invoice_id,
        billing=await _overview(db, runtime, org_id),
    )


async def _set_cancel(
    access: OrgAccess, db: AsyncSession, runtime: Runtime, who: audit.Actor, value: bool
) -> s.BillingOverview:
    await service.cancel(db, org_id=access.org.id, at_period_end=value)
    await audit.record(
        db, actor=who, action="billing.cancel" if value else "billing.resume",
        org_id=access.org.id, target_type="org", target_id=access.org.id,
        after={"cancel_at_period_end": value},
    )  # fmt: skip
    await db.flush()
    return await _overview(db, runtime, access.org.id)


@router.post("/orgs/{org_id}/billing/subscription/cancel", operation_id="billing_cancel")
async def cancel_subscription(
    access: BillingWriter, db: DbSession, runtime: RuntimeDep, who: CurrentActor
) -> s.BillingOverview:
    """Cancel at the end of the paid period: no refund; the org stays on its plan until then,
    then moves to the free plan. Owners."""
    return await _set_cancel(access, db, runtime, who, True)


@router.post("/orgs/{org_id}/billing/subscription/resume", operation_id="billing_resume")
async def resume_subscription(
    access: BillingWriter, db: DbSession, runtime: RuntimeDep, who: CurrentActor
) -> s.BillingOverview:
    """Undo a cancellation before the period ends. Owners."""
    return await _set_cancel(access, db, runtime, who, False)


@router.get("/orgs/{org_id}/billing/history", operation_id="billing_history")
async def billing_history(access: BillingReader, db: DbSession) -> s.History:
    """Charges, newest first (up to 100), each with its invoice once paid. Owners and admins."""
    rows = await service.history(db, access.org.id)
    return s.History(
        data=[
            s.HistoryEntry(
                charge=_charge(row["charge"]),
                invoice=_invoice(row["invoice"]) if row["invoice"] is not None else None,
            )
            for row in rows
        ]
    )


@router.get("/orgs/{org_id}/billing/credits", operation_id="billing_credits")
async def billing_credits(access: BillingReader, db: DbSession) -> s.Credits:
    rows = (
        await db.scalars(
            sa.select(Credit)
            .where(Credit.org_id == access.org.id)
            .order_by(Credit.created_at.desc())
            .limit(200)
        )
    ).all()
    return s.Credits(
        balance=await service.credit_balance(db, access.org.id),
        data=[
            s.CreditPublic(
                id=c.id,
                amount=c.amount,
                reason=c.reason,
                charge_id=c.charge_id,
                created_at=c.created_at,
            )
            for c in rows
        ],
    )


async def _org_invoice(db: AsyncSession, org_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    invoice = await db.get(Invoice, invoice_id)
    if invoice is None or invoice.org_id != org_id:
        raise NotFound("no such invoice")
    return invoice


@router.get("/orgs/{org_id}/billing/invoices/{invoice_id}", operation_id="billing_get_invoice")
async def get_invoice(
    invoice_id: uuid.UUID, access: BillingReader, db: DbSession
) -> s.InvoicePublic:
    return _invoice(await _org_invoice(db, access.org.id, invoice_id))


@router.get(
    "/orgs/{org_id}/billing/invoices/{invoice_id}/html",
    operation_id="billing_get_invoice_html",
    response_class=HTMLResponse,
)
async def get_invoice_html(
    invoice_id: uuid.UUID, access: BillingReader, db: DbSession, runtime: RuntimeDep
) -> Response:
    invoice = await _org_invoice(db, access.org.id, invoice_id)
    page = invoices.render_html(invoice, runtime.settings.billing)
    return HTMLResponse(
        page,
        headers={
            "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
            "cache-control": "private, no-store",
        },
    )


@router.get(
    "/orgs/{org_id}/billing/invoices/{invoice_id}/pdf",
    operation_id="billing_get_invoice_pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_invoice_pdf(
    invoice_id: uuid.UUID, access: BillingReader, db: DbSession, runtime: RuntimeDep
) -> Response:
    invoice = await _org_invoice(db, access.org.id, invoice_id)
    pdf = await asyncio.to_thread(invoices.render_pdf, invoice, runtime.settings.billing)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="{invoice.number}.pdf"',
            "cache-control": "private, no-store",
        },
    )


# ---------------------------------------------------------------------------- operators


@router.post(
    "/admin/orgs/{org_id}/billing/credits",
    status_code=201,
    operation_id="billing_admin_grant_credit",
)
async def grant_credit(
    org_id: uuid.UUID,
    body: s.CreditGrant,
    operator: CurrentOperator,
    db: DbSession,
    who: CurrentActor,
) -> s.CreditPublic:
    """Operators: credit (KRW) taken off the org's next charges; a negative amount corrects a
    grant down to zero. Audited as ``billing.credit-grant``."""
    credit = await service.grant_credit(
        db, org_id=org_id, amount=body.amount, reason=body.reason, actor=who, now=utcnow()
    )
    return s.CreditPublic(
        id=credit.id, amount=credit.amount, reason=credit.reason, charge_id=None,
        created_at=credit.created_at,
    )  # fmt: skip


@router.post("/admin/billing/charges/{charge_id}/refund", operation_id="billing_admin_refund")
async def refund_charge(
    charge_id: uuid.UUID,
    body: s.RefundCreate,
    operator: CurrentOperator,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> s.ChargePublic:
    """Operators: cancel all or part of a paid charge at Toss
    (``POST /v1/payments/{paymentKey}/cancel``); the charge and its invoice are marked
    refunded. Audited as ``billing.refund``."""
    client = _client(runtime)
    try:
        charge = await service.refund(
            db,
            _ctx(runtime, client),
            charge_id=charge_id,
            reason=body.reason,
            amount=body.amount,
            actor=who,
        )
    finally:
        await client.close()
    return _charge(charge)
