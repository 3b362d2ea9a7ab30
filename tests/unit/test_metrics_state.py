"""The gauges and the risk histogram that the Grafana dashboard and the alert rules read."""

from __future__ import annotations

import asyncio
import contextlib
import time

from prometheus_client import generate_latest

from haechi.core.metrics import Metrics
from haechi.core.store.counters import CounterBuffer
from haechi.core.store.memory import MemoryStore
from haechi.risk.attack import AttackMonitor
from haechi.runtime import export_edge_state


def exposition(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def sample(text: str, prefix: str) -> float:
    line = next(ln for ln in text.splitlines() if ln.startswith(prefix))
    return float(line.rsplit(" ", 1)[1])


def test_edge_state_is_read_at_scrape_time() -> None:
    metrics, counters, attack = Metrics(), CounterBuffer(), AttackMonitor()
    export_edge_state(metrics, counters, attack)
    export_edge_state(metrics, counters, attack)  # registering twice changes nothing
    counters.add("usage:a")
    counters.add("usage:b")
    attack.set_levels({"hk_site": 2})
    text = exposition(metrics)
    assert sample(text, "haechi_usage_counters_unflushed ") == 2.0
    assert sample(text, 'haechi_attack_level{site="hk_site"}') == 2.0
    assert text.count("# TYPE haechi_attack_level gauge") == 1

    before = sample(text, "haechi_usage_counters_flushed_timestamp_seconds ")
    time.sleep(0.01)

    async def flush() -> None:
        store = MemoryStore()
        assert await counters.flush(store) == 2

    asyncio.run(flush())
    text = exposition(metrics)
    assert sample(text, "haechi_usage_counters_unflushed ") == 0.0
    assert sample(text, "haechi_usage_counters_flushed_timestamp_seconds ") > before


def test_a_failed_flush_leaves_the_timestamp_behind() -> None:
    counters = CounterBuffer()
    stamp = counters.flushed_at
    counters.add("usage:a")

    class Down:
        async def incr_many(self, batch: dict[str, int], ttl_seconds: float | None) -> None:
            raise ConnectionError("store down")

    async def flush() -> None:
        with contextlib.suppress(ConnectionError):
            await counters.flush(Down())  # type: ignore[arg-type]

    asyncio.run(flush())
    assert counters.flushed_at == stamp
    assert len(counters) == 1


def test_risk_scores_land_in_ten_point_buckets_by_site() -> None:
    metrics = Metrics()
    for risk in (0, 5, 10, 35, 99):
        metrics.observe_risk("hk_site", risk)
    text = exposition(metrics)
    assert sample(text, 'haechi_risk_score_bucket{le="10.0",site="hk_site"}') == 3.0
    assert sample(text, 'haechi_risk_score_bucket{le="40.0",site="hk_site"}') == 4.0
    assert sample(text, 'haechi_risk_score_bucket{le="+Inf",site="hk_site"}') == 5.0
    assert sample(text, 'haechi_risk_score_count{site="hk_site"}') == 5.0
