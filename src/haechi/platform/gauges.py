"""Gauges of what the platform's jobs leave in SQL, for /metrics (dashboards and alerts).

The roll-up, the e-mail outbox and the charge job run in workers, which serve no /metrics; what
they did is in the database. A platform-role process reads it every ``REFRESH_SECONDS`` (three
small aggregate queries) and /metrics exports the last values, so a scrape never waits on SQL:

- ``haechi_usage_rollup_applied_timestamp_seconds``: when the roll-up last applied a flush (the
  roll-up lag alert compares it with the time while challenges are being issued);
- ``haechi_email_outbox_messages{status}``: mails pending, sent and dead (the dead letters
  operators retry or drop);
- ``haechi_billing_charges_failed_24h``: charges declined in the last 24 hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from haechi.core.metrics import Metrics

log = logging.getLogger(__name__)

REFRESH_SECONDS = 15.0
MAIL_STATUSES = ("pending", "sent", "dead")


class PlatformGauges:
    def __init__(self) -> None:
        self.rollup_applied: float | None = None
        self.mail: dict[str, int] = dict.fromkeys(MAIL_STATUSES, 0)
        self.charges_failed_24h = 0
        self.refreshed = False

    def export(self, metrics: Metrics) -> None:
        metrics.gauge(
            "haechi_usage_rollup_applied_timestamp_seconds",
            "When the usage roll-up last applied a flush to SQL (Unix time)",
            (),
            lambda: [((), self.rollup_applied)] if self.rollup_applied is not None else [],
        )
        metrics.gauge(
            "haechi_email_outbox_messages",
            "Mails in the outbox by status (pending, sent, dead)",
            ("status",),
            lambda: [((s,), float(n)) for s, n in self.mail.items()] if self.refreshed else [],
        )
        metrics.gauge(
            "haechi_billing_charges_failed_24h",
            "Card charges declined or failed in the last 24 hours",
            (),
            lambda: [((), float(self.charges_failed_24h))] if self.refreshed else [],
        )

    async def refresh(self, sessions: Any) -> None:
        from haechi.platform.billing.models import Charge
        from haechi.platform.email.models import Mail
        from haechi.platform.usage.models import UsageFlush

        since = datetime.now(UTC) - timedelta(hours=24)
        async with sessions() as session:
            applied = await session.scalar(sa.select(sa.func.max(UsageFlush.applied_at)))
            rows = await session.execute(
                sa.select(Mail.status, sa.func.count()).group_by(Mail.status)
            )
            mail = dict.fromkeys(MAIL_STATUSES, 0)
            for status, count in rows:
                mail[str(status)] = int(count)
            failed = await session.scalar(
                sa.select(sa.func.count())
                .select_from(Charge)
                .where(Charge.status == "failed", Charge.updated_at >= since)
            )
        if applied is not None:
            if applied.tzinfo is None:
                applied = applied.replace(tzinfo=UTC)
            self.rollup_applied = applied.timestamp()
        self.mail = mail
        self.charges_failed_24h = int(failed or 0)
        self.refreshed = True

    async def run(self, sessions: Any, stop: asyncio.Event) -> None:
        """Refresh until ``stop`` is set; a database outage keeps the last values (the database
        alert covers it) and is retried on the next tick."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.refresh(sessions)
            except Exception:  # an outage must not end the loop
                log.warning("platform gauges: refresh failed", exc_info=True)
            wait = max(1.0, REFRESH_SECONDS - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
