"""/api/v1/billing/webhooks/toss: Toss's webhook (no signature: each event is verified by
fetching the payment back before anything changes)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response

from haechi.core.errors import Invalid
from haechi.platform.billing import service
from haechi.platform.billing.providers.toss import TossClient, TossError
from haechi.platform.deps import DbSession, RuntimeDep

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
