"""The Toss client against the loopback Toss server: the billing-key flow as Toss documents it
(card registration redirect, billing key, charge with Idempotency-Key, look-up, cancel), its
error shape and trace id, and every field the client relies on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from haechi.core.settings import BillingSettings
from haechi.dev.fake_toss import CARD_DECLINES, ERRORS, TEST_SECRET_KEY, FakeToss, create_app
from haechi.platform.billing.providers.toss import DECLINES, RELIED_ON, TossClient, TossError

pytestmark = pytest.mark.integration

BASE = "http://toss.test"


@pytest.fixture
async def toss() -> AsyncIterator[tuple[TossClient, FakeToss, httpx.AsyncClient]]:
    app = create_app()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    client = TossClient(
        BillingSettings(toss_api_url=BASE, toss_secret_key=TEST_SECRET_KEY), http=http
    )
    yield client, app.state.toss, http
    await http.aclose()


async def register(http: httpx.AsyncClient, customer: str, card: str = "4330123412341234") -> str:
    """The card-registration window: the form, then the redirect to successUrl."""
    page = await http.get(
        "/fake/billing-auth",
        params={
            "customerKey": customer,
            "successUrl": "https://shop.example/billing/success",
            "failUrl": "https://shop.example/billing/fail",
        },
    )
    assert page.status_code == 200 and 'name="cardNumber"' in page.text
    reply = await http.post(
        "/fake/billing-auth",
        data={
            "customerKey": customer,
            "cardNumber": card,
            "successUrl": "https://shop.example/billing/success",
            "failUrl": "https://shop.example/billing/fail",
        },
    )
    assert reply.status_code == 302
    target = urlsplit(reply.headers["location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert target.path == "/billing/success" and query["customerKey"] == customer
    return query["authKey"]


async def test_billing_key_charge_lookup_and_cancel(toss: Any) -> None:
    client, state, http = toss
    auth_key = await register(http, "org_1")
    billing = await client.issue_billing_key(auth_key=auth_key, customer_key="org_1")
    assert billing.customer_key == "org_1" and billing.card_number
    # an authKey is good once
    with pytest.raises(TossError) as used:
        await client.issue_billing_key(auth_key=auth_key, customer_key="org_1")
    assert used.value.code == "INVALID_REQUEST" and used.value.status == 400

    args = dict(
        billing_key=billing.billing_key,
        customer_key="org_1",
        amount=29_000,
        order_id="inv-2026-12-000001",
        order_name="Haechi Pro 2026-12",
        idempotency_key="charge-inv-2026-12-000001",
    )
    payment = await client.charge(**args)  # type: ignore[arg-type]
    assert payment.status == "DONE" and payment.total_amount == 29_000
    assert payment.vat == 2_636  # 29,000 includes 10 % VAT: 29,000 / 11
    # a retried charge (lost reply) gets the first answer and charges nothing more
    again = await client.charge(**args)  # type: ignore[arg-type]
    assert again.payment_key == payment.payment_key
    assert len(state.payments) == 1 and state.charge_calls == 1
    # the same key with another body is refused; another key for the same order too
    with pytest.raises(TossError) as other_body:
        await client.charge(**{**args, "amount": 1_000})  # type: ignore[arg-type]
    assert other_body.value.code == "INVALID_REQUEST"
    with pytest.raises(TossError) as duplicate:
        await client.charge(**{**args, "idempotency_key": "another"})  # type: ignore[arg-type]
    assert duplicate.value.code == "DUPLICATED_ORDER_ID"
    assert len(state.payments) == 1

    fetched = await client.get_payment(payment.payment_key)
    assert fetched.status == "DONE" and fetched.order_id == "inv-2026-12-000001"
    partial = await client.cancel(
        payment.payment_key, reason="proration", amount=9_000, idempotency_key="c1"
    )
    assert partial.status == "PARTIAL_CANCELED" and partial.balance_amount == 20_000
    done = await client.cancel(payment.payment_key, reason="refund", idempotency_key="c2")
    assert done.status == "CANCELED" and done.balance_amount == 0
    assert len(done.raw["cancels"]) == 2
    with pytest.raises(TossError) as twice:
        await client.cancel(payment.payment_key, reason="again", idempotency_key="c3")
    assert twice.value.code == "ALREADY_CANCELED_PAYMENT"


async def test_declined_card_and_error_shape(toss: Any) -> None:
    client, state, http = toss
    auth_key = await register(http, "org_2", card="4330123412340002")
    billing = await client.issue_billing_key(auth_key=auth_key, customer_key="org_2")
    with pytest.raises(TossError) as declined:
        await client.charge(
            billing_key=billing.billing_key,
            customer_key="org_2",
            amount=29_000,
            order_id="inv-2026-12-000002",
            order_name="Haechi Pro",
            idempotency_key="k2",
        )
    error = declined.value
    assert error.status == 403 and error.code == "REJECT_CARD_PAYMENT" and error.declined
    assert error.trace_id and error.message
    with pytest.raises(TossError) as wrong_customer:
        await client.charge(
            billing_key=billing.billing_key,
            customer_key="org_x",
            amount=100,
            order_id="inv-2026-12-000003",
            order_name="x",
            idempotency_key="k3",
        )
    assert wrong_customer.value.code == "NOT_MATCHES_CUSTOMER_KEY"
    with pytest.raises(TossError) as missing:
        await client.get_payment("tgen_nothing")
    assert missing.value.status == 404 and missing.value.code == "NOT_FOUND_PAYMENT"
    assert state.payments == {}


async def test_a_card_refused_at_registration_goes_to_fail_url(toss: Any) -> None:
    _, _, http = toss
    reply = await http.post(
        "/fake/billing-auth",
        data={
            "customerKey": "org_3",
            "cardNumber": "4330123412340010",
            "successUrl": "https://shop.example/ok",
            "failUrl": "https://shop.example/fail",
        },
    )
    target = urlsplit(reply.headers["location"])
    assert target.path == "/fail" and parse_qs(target.query)["code"] == ["INVALID_CARD_NUMBER"]


async def test_wrong_secret_key_is_401_with_toss_error_shape(toss: Any) -> None:
    _, _, http = toss
    client = TossClient(
        BillingSettings(toss_api_url=BASE, toss_secret_key="test_sk_wrong"), http=http
    )
    with pytest.raises(TossError) as refused:
        await client.get_payment("tgen_x")
    assert refused.value.status == 401 and refused.value.code == "UNAUTHORIZED_KEY"
    raw = await http.post("/v1/billing/authorizations/issue", json={})
    assert raw.status_code == 401 and set(raw.json()) == {"code", "message"}


async def test_every_relied_on_field_is_in_the_answers(toss: Any) -> None:
    client, state, http = toss
    auth_key = await register(http, "org_4")
    reply = await http.post(
        "/v1/billing/authorizations/issue",
        json={"authKey": auth_key, "customerKey": "org_4"},
        headers=client._headers,
    )
    billing = reply.json()
    assert set(RELIED_ON["billing"]) <= set(billing)
    payment = await http.post(
        f"/v1/billing/{billing['billingKey']}",
        json={"customerKey": "org_4", "amount": 1000, "orderId": "order-0004", "orderName": "x"},
        headers=client._headers,
    )
    assert set(RELIED_ON["payment"]) <= set(payment.json())
    error = await http.get("/v1/payments/none", headers=client._headers)
    assert set(RELIED_ON["error"]) <= set(error.json())
    (event,) = state.events
    assert set(RELIED_ON["webhook"]) <= set(event)
    assert set(RELIED_ON["webhook.data"]) <= set(event["data"])
    assert event["eventType"] == "PAYMENT_STATUS_CHANGED"


@pytest.mark.parametrize("suffix", sorted(CARD_DECLINES))
async def test_each_documented_decline(toss: Any, suffix: str) -> None:
    """The test cards decline with Toss's codes, each with its documented HTTP status, and the
    client counts each as a card refusal (retried by dunning), not as a request error."""
    client, _, http = toss
    customer = f"org_d{suffix}"
    auth_key = await register(http, customer, card="433012341234" + suffix)
    billing = await client.issue_billing_key(auth_key=auth_key, customer_key=customer)
    with pytest.raises(TossError) as declined:
        await client.charge(
            billing_key=billing.billing_key,
            customer_key=customer,
            amount=1000,
            order_id=f"order-d{suffix}",
            order_name="x",
            idempotency_key=f"d{suffix}",
        )
    code = CARD_DECLINES[suffix]
    assert declined.value.code == code and declined.value.declined
    assert declined.value.status == ERRORS[code][0] and declined.value.trace_id
    assert code in DECLINES


def test_refused_in_production() -> None:
    env = {**os.environ, "HAECHI_ENV": "production"}
    run = subprocess.run(
        [sys.executable, "-m", "haechi.cli", "dev", "fake-toss", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and "refused" in run.stderr
