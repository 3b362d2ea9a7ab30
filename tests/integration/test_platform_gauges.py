"""The platform's gauges (haechi.platform.gauges) read what the workers' jobs left in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import generate_latest

from haechi.core import db
from haechi.core.metrics import Metrics
from haechi.platform.email.models import Mail
from haechi.platform.gauges import PlatformGauges
from haechi.platform.usage.models import UsageFlush


def _value(text: str, prefix: str) -> float:
    line = next(ln for ln in text.splitlines() if ln.startswith(prefix))
    return float(line.rsplit(" ", 1)[1])


async def test_gauges_follow_the_outbox_and_the_roll_up(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gauges.db'}"
    await db.migrate(url)
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    metrics, gauges = Metrics(), PlatformGauges()
    gauges.export(metrics)
    try:
        text = generate_latest(metrics.registry).decode()
        assert "haechi_email_outbox_messages{" not in text  # nothing read yet: no guesses
        await gauges.refresh(sessions)
        text = generate_latest(metrics.registry).decode()
        assert _value(text, 'haechi_email_outbox_messages{status="dead"}') == 0.0
        assert _value(text, "haechi_billing_charges_failed_24h ") == 0.0
        assert "\nhaechi_usage_rollup_applied_timestamp_seconds " not in text  # never rolled up

        applied = datetime.now(UTC) - timedelta(minutes=3)
        async with sessions() as session:
            for status in ("dead", "dead", "pending"):
                session.add(
                    Mail(
                        to_address="owner@example.com",
                        template="verify",
                        subject="s",
                        text_body="t",
                        html_body="h",
                        status=status,
                    )
                )
            session.add(UsageFlush(id="f1", counters=3, total=9, applied_at=applied))
            await session.commit()
        await gauges.refresh(sessions)
        text = generate_latest(metrics.registry).decode()
        assert _value(text, 'haechi_email_outbox_messages{status="dead"}') == 2.0
        assert _value(text, 'haechi_email_outbox_messages{status="pending"}') == 1.0
        stamp = _value(text, "haechi_usage_rollup_applied_timestamp_seconds ")
        assert abs(stamp - applied.timestamp()) < 1.0
    finally:
        await engine.dispose()
