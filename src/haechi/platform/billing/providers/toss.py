"""A client for the Toss Payments billing-key API over httpx, against ``billing.toss_api_url``
(the real API, or ``haechi.dev.fake_toss`` in tests). Each documented field it relies on is
listed in ``RELIED_ON`` and checked by the contract test."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from haechi.core.settings import BillingSettings

TRACE_HEADER = "X-TossPayments-Trace-Id"
# Fields of Toss's answers this module reads (tests/integration/test_toss_contract.py).
RELIED_ON = {
    "billing": ("billingKey", "customerKey", "card", "cardCompany", "cardNumber"),
    "payment": (
        "paymentKey",
        "orderId",
        "status",
        "totalAmount",
        "balanceAmount",
        "vat",
        "approvedAt",
        "cancels",
    ),
    "error": ("code", "message"),
    # the webhook body (haechi.platform.billing.router): the payment's key, then fetched back
    "webhook": ("eventType", "createdAt", "data"),
    "webhook.data": ("paymentKey", "orderId", "status"),
}


class TossError(Exception):
    """Toss refused the request: ``code`` and ``message`` as Toss sent them, the HTTP status,
    and the trace id Toss support asks for."""

    def __init__(self, status: int, code: str, message: str, trace_id: str | None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.trace_id = trace_id

    @property
    def declined(self) -> bool:
        """The card was refused (a retry later may pass); other errors are the request's."""
        return self.code in DECLINES


# Card refusals: retried on the dunning schedule rather than treated as a bug.
DECLINES = frozenset(
    {
        "REJECT_CARD_PAYMENT",
        "REJECT_CARD_COMPANY",
        "INVALID_REJECT_CARD",
        "INVALID_STOPPED_CARD",
        "INVALID_CARD_EXPIRATION",
        "EXCEED_MAX_DAILY_PAYMENT_COUNT",
        "EXCEED_MAX_PAYMENT_AMOUNT",
        "NOT_AVAILABLE_PAYMENT",
    }
)


@dataclass(frozen=True)
class BillingKey:
    billing_key: str
    customer_key: str
    card_company: str | None
    card_number: str | None


@dataclass(frozen=True)
class Payment:
    payment_key: str
    order_id: str
    status: str
    total_amount: int
    balance_amount: int
    vat: int
    raw: dict[str, Any]


def _payment(body: dict[str, Any]) -> Payment:
    return Payment(
        payment_key=body["paymentKey"],
        order_id=body["orderId"],
        status=body["status"],
        total_amount=int(body["totalAmount"]),
        balance_amount=int(body["balanceAmount"]),
        vat=int(body.get("vat") or 0),
        raw=body,
    )


class TossClient:
    def __init__(self, settings: BillingSettings, *, http: httpx.AsyncClient | None = None) -> None:
        if not settings.toss_secret_key:
            raise ValueError("billing needs HAECHI_BILLING__TOSS_SECRET_KEY")
        token = base64.b64encode(f"{settings.toss_secret_key}:".encode()).decode()
        self._headers = {"authorization": f"Basic {token}"}
        self._http = http or httpx.AsyncClient(timeout=settings.toss_timeout_seconds)
        self._base = settings.toss_api_url.rstrip("/")

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = dict(self._headers)
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        try:
            reply = await self._http.request(method, self._base + path, json=body, headers=headers)
        except httpx.HTTPError as failed:  # Toss unreachable: like a 503, never a decline
            raise TossError(
                503, "NETWORK_ERROR", f"{type(failed).__name__}: {failed}", None
            ) from None
        try:
            data = reply.json()
        except ValueError:
            data = None
        if reply.status_code >= 400 or not isinstance(data, dict):
            error = data if isinstance(data, dict) else {}
            raise TossError(
                reply.status_code,
                str(error.get("code", "UNKNOWN")),
                str(error.get("message", reply.text[:200])),
                reply.headers.get(TRACE_HEADER),
            )
        return data

    async def issue_billing_key(self, *, auth_key: str, customer_key: str) -> BillingKey:
        """``POST /v1/billing/authorizations/issue``: the authKey from the card-registration
        redirect becomes a billing key (store it encrypted)."""
        body = await self._call(
            "POST",
            "/v1/billing/authorizations/issue",
            {"authKey": auth_key, "customerKey": customer_key},
        )
        return BillingKey(
            billing_key=body["billingKey"],
            customer_key=body["customerKey"],
            card_company=body.get("cardCompany"),
            card_number=body.get("cardNumber"),
        )

    async def charge(
        self,
        *,
        billing_key: str,
        customer_key: str,
        amount: int,
        order_id: str,
        order_name: str,
        idempotency_key: str,
        customer_email: str | None = None,
    ) -> Payment:
        """``POST /v1/billing/{billingKey}`` with an ``Idempotency-Key``: a retry with the same
        key gets the first answer back and never charges twice."""
        body: dict[str, Any] = {
            "customerKey": customer_key,
            "amount": amount,
            "orderId": order_id,
            "orderName": order_name,
        }
        if customer_email:
            body["customerEmail"] = customer_email
        path = f"/v1/billing/{quote(billing_key, safe='')}"
        return _payment(await self._call("POST", path, body, idempotency_key))

    async def get_payment(self, payment_key: str) -> Payment:
        return _payment(await self._call("GET", f"/v1/payments/{quote(payment_key, safe='')}"))

    async def get_payment_by_order(self, order_id: str) -> Payment:
        return _payment(await self._call("GET", f"/v1/payments/orders/{quote(order_id, safe='')}"))

    async def cancel(
        self,
        payment_key: str,
        *,
        reason: str,
        idempotency_key: str,
        amount: int | None = None,
    ) -> Payment:
        body: dict[str, Any] = {"cancelReason": reason}
        if amount is not None:
            body["cancelAmount"] = amount
        return _payment(
            await self._call(
                "POST", f"/v1/payments/{quote(payment_key, safe='')}/cancel", body, idempotency_key
            )
        )
