"""A loopback Toss Payments server for tests and the demo (``haechi dev fake-toss``).

It speaks the documented billing-key (자동결제) endpoints with their fields, Basic auth with the
secret key, ``Idempotency-Key`` replays and the ``{code, message}`` error shape, serves a
card-registration page that redirects like Toss's billing-auth window, and delivers webhooks
(``PAYMENT_STATUS_CHANGED``) to a configured URL with Toss's behaviour: retried with backoff
until answered 200, and optionally delivered twice or out of order (``Webhooks``).

Test cards (``CARD_DECLINES``): a number ending in ``0002`` is declined on every charge with
``REJECT_CARD_PAYMENT``, ``0003`` ``REJECT_CARD_COMPANY``, ``0004`` ``INVALID_CARD_EXPIRATION``,
``0005`` ``INVALID_STOPPED_CARD``, ``0006`` ``EXCEED_MAX_DAILY_PAYMENT_COUNT``; one ending in
``0010`` is refused at registration (``INVALID_CARD_NUMBER``). ``FakeToss.decline(billing_key,
code)`` makes a registered card decline from then on (a card that expires). State is in memory,
per app.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import logging
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

API_VERSION = "2022-11-16"
KST = timezone(timedelta(hours=9))
TRACE_HEADER = "X-TossPayments-Trace-Id"
MID = "tvivarepublica"
# The fake's default secret key: a Toss test key's shape, never a real one.
TEST_SECRET_KEY = "test_sk_haechi_fake"

ERRORS: dict[str, tuple[int, str]] = {
    "UNAUTHORIZED_KEY": (401, "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다."),
    "INVALID_REQUEST": (400, "잘못된 요청입니다."),
    "NOT_FOUND_PAYMENT": (404, "존재하지 않는 결제 정보 입니다."),
    "NOT_FOUND": (404, "존재하지 않는 정보 입니다."),
    "DUPLICATED_ORDER_ID": (
        400,
        "이미 승인 및 취소가 진행된 중복된 주문번호 입니다. 다른 주문번호로 진행해주세요.",
    ),
    "NOT_MATCHES_CUSTOMER_KEY": (400, "빌링 인증 고객키와 결제 요청 고객키가 일치하지 않습니다."),
    "ALREADY_CANCELED_PAYMENT": (400, "이미 취소된 결제 입니다."),
    "NOT_CANCELABLE_AMOUNT": (400, "취소 할 수 없는 금액 입니다."),
    "REJECT_CARD_PAYMENT": (403, "한도초과 혹은 잔액부족으로 결제에 실패했습니다."),
    "REJECT_CARD_COMPANY": (403, "결제 승인이 거절되었습니다."),
    "INVALID_CARD_EXPIRATION": (400, "카드 정보를 다시 확인해주세요. (유효기간)"),
    "INVALID_STOPPED_CARD": (400, "정지된 카드 입니다."),
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": (400, "하루 결제 가능 횟수를 초과했습니다."),
    "NOT_FOUND_BILLING": (404, "존재하지 않는 빌링 정보입니다."),
    "INVALID_CARD_NUMBER": (400, "카드번호를 다시 확인해주세요."),
    "IDEMPOTENT_REQUEST_PROCESSING": (409, "이전 멱등 요청이 처리중입니다."),
}


# Card number suffix -> the decline every charge of that card gets.
CARD_DECLINES = {
    "0002": "REJECT_CARD_PAYMENT",
    "0003": "REJECT_CARD_COMPANY",
    "0004": "INVALID_CARD_EXPIRATION",
    "0005": "INVALID_STOPPED_CARD",
    "0006": "EXCEED_MAX_DAILY_PAYMENT_COUNT",
}
log = logging.getLogger(__name__)


@dataclass
class Webhooks:
    """Webhook delivery like Toss's: POST the event as JSON to ``url``; anything but a 2xx
    within ``timeout`` seconds is retried after ``backoff`` x 2^n seconds, ``retries`` times
    (Toss retries up to 7 times over about three days; the fake keeps the count and shortens
    the waits). ``duplicates`` extra deliveries of each event and ``shuffle`` (a batch delivered
    in random order) play the at-least-once, unordered delivery Toss documents."""

    url: str | None = None
    retries: int = 7
    backoff: float = 0.5
    timeout: float = 10.0
    duplicates: int = 0
    shuffle: bool = False
    seed: int | None = None


class TossError(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.status, default = ERRORS[code]
        self.message = message or default
        super().__init__(code)


def _now() -> str:
    return datetime.now(KST).isoformat(timespec="seconds")


@dataclass
class FakeToss:
    """The server's state; tests reach it through ``app.state.toss``."""

    secret_key: str
    auth_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # authKey -> customer, card
    billing: dict[str, tuple[str, str]] = field(default_factory=dict)  # billingKey -> same
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # orderId -> paymentKey
    # (path, Idempotency-Key) -> (request digest, status, body)
    replies: dict[tuple[str, str], tuple[str, int, bytes]] = field(default_factory=dict)
    # PAYMENT_STATUS_CHANGED events not yet delivered (tests deliver them, twice or reordered).
    events: list[dict[str, Any]] = field(default_factory=list)
    charge_calls: int = 0  # charges processed (a replay is not one)
    charge_requests: int = 0  # charge requests received, replays included
    # billingKey -> the decline its next charges get (set with ``decline``).
    declines: dict[str, str] = field(default_factory=dict)
    webhooks: Webhooks = field(default_factory=Webhooks)
    # (eventType, paymentKey, payment status, HTTP status or 0 for no answer) per delivery try.
    deliveries: list[tuple[str, str, str, int]] = field(default_factory=list)

    def decline(self, billing_key: str, code: str) -> None:
        """From now on, charges of this card are declined with ``code``."""
        if code not in ERRORS:
            raise ValueError(code)
        self.declines[billing_key] = code

    async def deliver_pending(self, http: httpx.AsyncClient | None = None) -> int:
        """Deliver the queued events to ``webhooks.url`` (duplicated, shuffled and retried as
        configured); returns how many events were answered 2xx. Without a URL they stay
        queued (tests deliver them by hand)."""
        config = self.webhooks
        if config.url is None or not self.events:
            return 0
        batch, self.events = self.events, []
        batch = [e for e in batch for _ in range(1 + config.duplicates)]
        if config.shuffle:
            random.Random(config.seed).shuffle(batch)
        own = http is None
        client = http or httpx.AsyncClient(timeout=config.timeout)
        delivered = 0
        try:
            for event in batch:
                delivered += await self._deliver(client, config, event)
        finally:
            if own:
                await client.aclose()
        return delivered

    async def _deliver(
        self, client: httpx.AsyncClient, config: Webhooks, event: dict[str, Any]
    ) -> int:
        assert config.url is not None
        data = event.get("data") or {}
        for attempt in range(config.retries + 1):
            try:
                reply = await client.post(config.url, json=event)
                status = reply.status_code
            except httpx.HTTPError:
                status = 0
            self.deliveries.append(
                (event["eventType"], data.get("paymentKey", ""), data.get("status", ""), status)
            )
            if 200 <= status < 300:
                return 1
            if attempt < config.retries:
                await asyncio.sleep(config.backoff * 2**attempt)
        log.warning("fake Toss: gave up on %s after %d tries", event["eventType"], attempt + 1)
        return 0

    def check_auth(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.secret_key}:".encode()).decode()
        if not hmac.compare_digest(header.encode(), expected.encode()):
            raise TossError("UNAUTHORIZED_KEY")

    def register_card(self, customer_key: str, card_number: str) -> str:
        digits = card_number.replace("-", "").replace(" ", "")
        if not digits.isdigit() or not 15 <= len(digits) <= 16 or digits.endswith("0010"):
            raise TossError("INVALID_CARD_NUMBER")
        auth_key = "bln_" + secrets.token_urlsafe(16)
        self.auth_keys[auth_key] = (customer_key, digits)
        return auth_key

    def issue(self, body: dict[str, Any]) -> dict[str, Any]:
        auth_key, customer_key = body.get("authKey"), body.get("customerKey")
        if not isinstance(auth_key, str) or not isinstance(customer_key, str):
            raise TossError("INVALID_REQUEST", "authKey와 customerKey는 필수입니다.")
        found = self.auth_keys.pop(auth_key, None)
        if found is None or found[0] != customer_key:
            raise TossError("INVALID_REQUEST", "유효하지 않은 authKey 입니다.")
        billing_key = secrets.token_urlsafe(32)
        self.billing[billing_key] = found
        card = _card(found[1])
        return {
            "mId": MID,
            "customerKey": customer_key,
            "authenticatedAt": _now(),
            "method": "카드",
            "billingKey": billing_key,
            "card": card,
            "cardCompany": "신한",
            "cardNumber": card["number"],
        }

    def charge(self, billing_key: str, body: dict[str, Any]) -> dict[str, Any]:
        self.charge_calls += 1
        found = self.billing.get(billing_key)
        if found is None:
            raise TossError("NOT_FOUND_BILLING")
        amount, order_id = body.get("amount"), body.get("orderId")
        name, customer_key = body.get("orderName"), body.get("customerKey")
        if not (
            isinstance(amount, int)
            and amount > 0
            and isinstance(order_id, str)
            and 6 <= len(order_id) <= 64
            and isinstance(name, str)
            and name
        ):
            raise TossError("INVALID_REQUEST")
        if customer_key != found[0]:
            raise TossError("NOT_MATCHES_CUSTOMER_KEY")
        if order_id in self.orders:
            raise TossError("DUPLICATED_ORDER_ID")
        refusal = self.declines.get(billing_key) or CARD_DECLINES.get(found[1][-4:])
        if refusal is not None:
            raise TossError(refusal)
        payment_key = "tgen_" + secrets.token_hex(12)
        vat = round(amount / 11)
        payment = {
            "mId": MID,
            "version": API_VERSION,
            "paymentKey": payment_key,
            "type": "BILLING",
            "orderId": order_id,
            "orderName": name,
            "currency": "KRW",
            "method": "카드",
            "totalAmount": amount,
            "balanceAmount": amount,
            "suppliedAmount": amount - vat,
            "vat": vat,
            "taxFreeAmount": int(body.get("taxFreeAmount") or 0),
            "status": "DONE",
            "requestedAt": _now(),
            "approvedAt": _now(),
            "card": {
                **_card(found[1]),
                "amount": amount,
                "approveNo": f"{secrets.randbelow(10**8):08d}",
            },
            "cancels": None,
            "failure": None,
            "receipt": {"url": f"https://dashboard.tosspayments.com/receipt/{payment_key}"},
        }
        self.payments[payment_key] = payment
        self.orders[order_id] = payment_key
        self._event(payment)
        return payment

    def _event(self, payment: dict[str, Any]) -> None:
        self.events.append(
            {
                "eventType": "PAYMENT_STATUS_CHANGED",
                "createdAt": _now(),
                "data": orjson.loads(orjson.dumps(payment)),
            }
        )

    def get_payment(self, payment_key: str) -> dict[str, Any]:
        payment = self.payments.get(payment_key)
        if payment is None:
            raise TossError("NOT_FOUND_PAYMENT")
        return payment

    def cancel(self, payment_key: str, body: dict[str, Any]) -> dict[str, Any]:
        payment = self.get_payment(payment_key)
        reason = body.get("cancelReason")
        if not isinstance(reason, str) or not reason:
            raise TossError("INVALID_REQUEST", "cancelReason은 필수입니다.")
        if payment["status"] == "CANCELED":
            raise TossError("ALREADY_CANCELED_PAYMENT")
        amount = body.get("cancelAmount", payment["balanceAmount"])
        if not isinstance(amount, int) or not 0 < amount <= payment["balanceAmount"]:
            raise TossError("NOT_CANCELABLE_AMOUNT")
        payment["balanceAmount"] -= amount
        payment["status"] = "CANCELED" if payment["balanceAmount"] == 0 else "PARTIAL_CANCELED"
        payment["cancels"] = [
            *(payment["cancels"] or []),
            {
                "cancelAmount": amount,
                "cancelReason": reason,
                "canceledAt": _now(),
                "transactionKey": secrets.token_hex(16),
                "cancelStatus": "DONE",
            },
        ]
        self._event(payment)
        return payment


def _card(number: str) -> dict[str, Any]:
    return {
        "issuerCode": "4V",
        "acquirerCode": "41",
        "number": number[:8] + "****" + number[-3:] + "*",
        "cardType": "신용",
        "ownerType": "개인",
    }


def _error(error: TossError) -> JSONResponse:
    return JSONResponse(
        {"code": error.code, "message": error.message},
        status_code=error.status,
        headers={TRACE_HEADER: secrets.token_hex(16)},
    )


async def _api(request: Request, handler: Any, *args: str) -> Response:
    """Auth, JSON body, Idempotency-Key replay (same key and body: the first answer), errors."""
    toss: FakeToss = request.app.state.toss
    raw = await request.body()
    try:
        toss.check_auth(request)
        body = orjson.loads(raw) if raw else {}
        if not isinstance(body, dict):
            raise TossError("INVALID_REQUEST")
    except orjson.JSONDecodeError:
        return _error(TossError("INVALID_REQUEST"))
    except TossError as error:
        return _error(error)
    key = request.headers.get("idempotency-key")
    slot = (request.url.path, key) if key else None
    digest = hashlib.sha256(raw).hexdigest()
    if slot is not None and slot in toss.replies:
        first_digest, status, reply = toss.replies[slot]
        if first_digest != digest:
            return _error(TossError("INVALID_REQUEST", "같은 멱등키로 다른 요청을 보냈습니다."))
        return Response(reply, status, media_type="application/json")
    try:
        status, reply = 200, orjson.dumps(handler(*args, body))
    except TossError as error:
        status, reply = error.status, orjson.dumps({"code": error.code, "message": error.message})
    if slot is not None:
        toss.replies[slot] = (digest, status, reply)
    headers = {TRACE_HEADER: secrets.token_hex(16)} if status >= 400 else {}
    return Response(reply, status, media_type="application/json", headers=headers)


async def issue(request: Request) -> Response:
    toss: FakeToss = request.app.state.toss
    return await _api(request, lambda body: toss.issue(body))


async def charge(request: Request) -> Response:
    toss: FakeToss = request.app.state.toss
    toss.charge_requests += 1
    return await _api(request, toss.charge, request.path_params["billing_key"])


async def payment(request: Request) -> Response:
    toss: FakeToss = request.app.state.toss
    try:
        toss.check_auth(request)
        return JSONResponse(toss.get_payment(request.path_params["payment_key"]))
    except TossError as error:
        return _error(error)


async def payment_by_order(request: Request) -> Response:
    toss: FakeToss = request.app.state.toss
    try:
        toss.check_auth(request)
        key = toss.orders.get(request.path_params["order_id"])
        if key is None:
            raise TossError("NOT_FOUND_PAYMENT")
        return JSONResponse(toss.get_payment(key))
    except TossError as error:
        return _error(error)


async def cancel(request: Request) -> Response:
    toss: FakeToss = request.app.state.toss
    return await _api(request, toss.cancel, request.path_params["payment_key"])


_PAGE = """<!doctype html><html lang="ko"><meta charset="utf-8"><title>카드 등록 (fake Toss)</title>
<h1>카드 등록</h1><p>Haechi's loopback Toss server: no card is charged.</p>
<form method="post"><input type="hidden" name="customerKey" value="{customer}">
<input type="hidden" name="successUrl" value="{success}"><input type="hidden" name="failUrl"
value="{fail}"><label>카드번호 <input name="cardNumber" value="4330123412341234"></label>
<button>등록</button></form></html>"""


async def billing_auth(request: Request) -> Response:
    """The card-registration window: GET shows it, POST redirects to successUrl with
    ``customerKey`` and ``authKey`` (or to failUrl with ``code`` and ``message``)."""
    toss: FakeToss = request.app.state.toss
    if request.method == "GET":
        q = request.query_params
        fields = {k: html.escape(q.get(k, "")) for k in ("customerKey", "successUrl", "failUrl")}
        return HTMLResponse(
            _PAGE.format(
                customer=fields["customerKey"],
                success=fields["successUrl"],
                fail=fields["failUrl"],
            )
        )
    form = await request.form()
    customer, success, fail = (
        str(form.get("customerKey", "")),
        str(form.get("successUrl", "")),
        str(form.get("failUrl", "")),
    )
    if not customer or not success.startswith(("http://", "https://")):
        return _error(TossError("INVALID_REQUEST"))
    try:
        auth_key = toss.register_card(customer, str(form.get("cardNumber", "")))
    except TossError as error:
        query = urlencode({"code": error.code, "message": error.message})
        return RedirectResponse(f"{fail}{'&' if '?' in fail else '?'}{query}", 302)
    query = urlencode({"customerKey": customer, "authKey": auth_key})
    return RedirectResponse(f"{success}{'&' if '?' in success else '?'}{query}", 302)


def create_app(
    secret_key: str = TEST_SECRET_KEY, webhooks: Webhooks | None = None, *, every: float = 0.5
) -> Starlette:
    """The fake's app. With ``webhooks.url`` set, a background task delivers queued events
    every ``every`` seconds while the app runs (under uvicorn: its lifespan)."""
    toss = FakeToss(secret_key=secret_key, webhooks=webhooks or Webhooks())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await toss.deliver_pending()
                except Exception:  # keep delivering; a test reads ``deliveries``
                    log.exception("fake Toss: webhook delivery failed")

        task = asyncio.create_task(loop()) if toss.webhooks.url else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/v1/billing/authorizations/issue", issue, methods=["POST"]),
            Route("/v1/billing/{billing_key}", charge, methods=["POST"]),
            Route("/v1/payments/orders/{order_id}", payment_by_order, methods=["GET"]),
            Route("/v1/payments/{payment_key}", payment, methods=["GET"]),
            Route("/v1/payments/{payment_key}/cancel", cancel, methods=["POST"]),
            Route("/fake/billing-auth", billing_auth, methods=["GET", "POST"]),
        ],
    )
    app.state.toss = toss
    return app
