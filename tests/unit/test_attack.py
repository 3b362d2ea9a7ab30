"""The automatic attack level: rises on a site's spikes against its own baseline, decays after."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from haechi.core.jobs import JobContext
from haechi.core.settings import AttackSettings, Settings
from haechi.core.store.memory import MemoryStore
from haechi.risk import attack
from haechi.risk.attack import (
    LEVELS_KEY,
    STATE_KEY,
    AttackMonitor,
    AttackState,
    MinuteCounts,
    SiteState,
    advance,
    parse_counts,
    update_levels,
)
from haechi.risk.jobs import update_attack_levels

P = AttackSettings()
SITE = "hk_shop"


def run_minutes(
    sites: dict[str, SiteState], minutes: list[dict[str, MinuteCounts]], p: AttackSettings = P
) -> tuple[dict[str, SiteState], list[float]]:
    """Advance minute by minute; the site's level after each."""
    levels = []
    for counts in minutes:
        sites = advance(sites, counts, p)
        levels.append(sites[SITE].level if SITE in sites else 0.0)
    return sites, levels


def steady(
    n: int, challenges: int = 20, solved: int = 19, failed: int = 1
) -> list[dict[str, MinuteCounts]]:
    return [{SITE: MinuteCounts(challenges, solved, failed)} for _ in range(n)]


def test_steady_traffic_never_raises_the_level() -> None:
    sites, levels = run_minutes({}, steady(180))
    assert max(levels) == 0.0
    assert sites[SITE].volume == pytest.approx(20.0)
    assert sites[SITE].failure == pytest.approx(0.05)


def test_a_volume_spike_raises_the_level_at_once_and_it_halves_every_half_life() -> None:
    sites, _ = run_minutes({}, steady(120))
    # 200 challenges against a baseline of 20: 3.3x the 3x threshold -> severity 2.
    sites, levels = run_minutes(sites, [{SITE: MinuteCounts(200, 190, 10)}])
    assert levels == [20.0]
    sites, levels = run_minutes(sites, steady(60))
    assert levels[9] == pytest.approx(10.0, abs=0.01)  # 10 minutes on: one half-life
    assert levels[19] == pytest.approx(5.0, abs=0.01)
    assert levels[-1] == 0.0  # under half a point: back to 0
    assert AttackState(0, sites).levels() == {}


def test_the_spike_size_sets_the_severity() -> None:
    base, _ = run_minutes({}, steady(120))
    for count, level in ((59, 0), (61, 10), (121, 20), (241, 30), (10_000, 30)):
        _, levels = run_minutes(dict(base), [{SITE: MinuteCounts(count, count, 0)}])
        assert levels == [float(level)], count


def test_a_small_site_needs_a_minimum_volume() -> None:
    sites, _ = run_minutes({}, steady(120, challenges=1, solved=1, failed=0))
    _, levels = run_minutes(sites, [{SITE: MinuteCounts(25, 25, 0)}])
    assert levels == [0.0]  # 25x its baseline, but under min_volume


def test_a_failure_spike_raises_the_level_and_both_together_add_a_step() -> None:
    sites, _ = run_minutes({}, steady(120, challenges=100, solved=95, failed=5))
    _, fail = run_minutes(dict(sites), [{SITE: MinuteCounts(100, 40, 60)}])
    assert fail == [20.0]  # 0.6 against 0.05: two failure_jump steps
    _, few = run_minutes(dict(sites), [{SITE: MinuteCounts(100, 5, 10)}])
    assert few == [0.0]  # under min_attempts
    _, both = run_minutes(dict(sites), [{SITE: MinuteCounts(400, 60, 40)}])
    assert both == [20.0]  # volume 1 and failure 1: one step more for both
    _, capped = run_minutes(dict(sites), [{SITE: MinuteCounts(1300, 60, 40)}])
    assert capped == [30.0]  # volume 3 (+1 for both), capped at max_level


def test_a_new_site_takes_its_first_minute_as_its_baseline() -> None:
    _, levels = run_minutes({}, [{SITE: MinuteCounts(500, 100, 300)}])
    assert levels == [0.0]


def test_an_attack_does_not_become_the_baseline_quickly() -> None:
    sites, _ = run_minutes({}, steady(120))
    sites, levels = run_minutes(sites, steady(30, challenges=300, solved=300, failed=0))
    assert min(levels) >= 20.0  # still flagged after half an hour of flood
    assert sites[SITE].volume < 60.0


def test_quiet_sites_are_forgotten() -> None:
    sites, _ = run_minutes({}, steady(5, challenges=1, solved=1, failed=0))
    sites, _ = run_minutes(sites, [{}] * 400)
    assert SITE not in sites


def test_counts_are_read_per_minute_and_site() -> None:
    taken = {
        "atk:100:hk_a:c": 3,
        "atk:100:hk_a:s": 2,
        "atk:100:odd:name:f": 1,  # a sitekey with a colon still parses
        "atk:101:hk_a:c": 50,  # another minute
        "atk:100:hk_a:zz": 9,  # unknown code
    }
    assert parse_counts(taken, 100) == {
        "hk_a": MinuteCounts(3, 2, 0),
        "odd:name": MinuteCounts(0, 0, 1),
    }


def test_state_round_trips_and_a_broken_one_starts_afresh() -> None:
    state = AttackState(7, {SITE: SiteState(12.5, None, 3.0), "hk_b": SiteState(1.0, 0.2, 0.0)})
    again = AttackState.loads(state.dumps())
    assert again == state
    assert AttackState.loads(b"{nope") == AttackState(None, {})
    assert AttackState.loads(b'{"minute": 3, "sites": {"x": [1]}}') == AttackState(None, {})


# ---------------------------------------------------------------------------- store and monitor


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_levels_flow_from_counts_through_the_store_to_every_process() -> None:
    wall = Clock(1_000_000 * 60.0)  # the start of a minute
    store = MemoryStore(clock=wall)
    monitor = AttackMonitor(clock=wall)
    other_replica = AttackMonitor(clock=wall)

    async def minute(challenges: int, solved: int, failed: int) -> dict[str, int]:
        for _ in range(challenges):
            monitor.record(SITE, "challenge")
        for _ in range(solved):
            monitor.record(SITE, "solved")
        for _ in range(failed):
            monitor.record_failure(SITE, "wrong-answer")
            monitor.record_failure(SITE, "denied")  # the policy's own decision: not counted
        await monitor.flush(store)
        wall.now += 60.0
        return await update_levels(store, P, now=wall.now + 10.0)

    for _ in range(60):
        assert await minute(20, 19, 1) == {}
    assert await minute(400, 100, 300) == {SITE: 30}
    await other_replica.refresh(store)
    assert other_replica.level(SITE) == 30
    assert other_replica.level("hk_other") == 0
    levels = [await minute(20, 19, 1) for _ in range(15)]
    assert levels[9] == {SITE: 15}  # one decay half-life after the spike
    await other_replica.refresh(store)
    assert other_replica.level(SITE) == levels[-1][SITE] < 15


async def test_update_processes_only_settled_minutes_and_catches_up_once() -> None:
    wall = Clock(2_000_000 * 60.0 + 1.0)  # one second into minute 2,000,000
    store = MemoryStore(clock=wall)
    monitor = AttackMonitor(clock=wall)
    monitor.record(SITE, "challenge")  # the current minute: not settled yet
    await monitor.flush(store)
    await update_levels(store, P, now=wall.now, settle_seconds=5.0)
    state = AttackState.loads(await store.get(STATE_KEY))
    assert state.minute == 2_000_000 - 2
    assert await store.get_counter(f"atk:{2_000_000}:{SITE}:c") == 1  # still waiting
    wall.now += 60.0
    await update_levels(store, P, now=wall.now, settle_seconds=5.0)
    state = AttackState.loads(await store.get(STATE_KEY))
    assert state.minute == 2_000_000 - 1
    wall.now += 120.0
    await update_levels(store, P, now=wall.now, settle_seconds=5.0)
    state = AttackState.loads(await store.get(STATE_KEY))
    assert state.minute == 2_000_000 + 1
    assert SITE in state.sites
    assert await store.get_counter(f"atk:{2_000_000}:{SITE}:c") == 0  # taken exactly once


async def test_levels_expire_when_the_job_stops() -> None:
    wall = Clock(0.0)
    store = MemoryStore(clock=wall)
    await store.set(LEVELS_KEY, orjson.dumps({SITE: 20}), attack.LEVELS_TTL_S)
    monitor = AttackMonitor()
    await monitor.refresh(store)
    assert monitor.level(SITE) == 20
    wall.now += attack.LEVELS_TTL_S + 1
    await monitor.refresh(store)
    assert monitor.level(SITE) == 0


async def test_unreadable_levels_mean_no_attack() -> None:
    store = MemoryStore()
    await store.set(LEVELS_KEY, b"[1, 2", 60)
    monitor = AttackMonitor()
    monitor.set_levels({SITE: 10})
    await monitor.refresh(store)
    assert monitor.level(SITE) == 0


async def test_monitor_loop_flushes_counts_and_refreshes_levels_until_stopped() -> None:
    store = MemoryStore()
    await store.set(LEVELS_KEY, orjson.dumps({SITE: 10}), 60)
    monitor = AttackMonitor(refresh_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(store, 0.01, stop))
    monitor.record(SITE, "challenge", now=60.0)
    for _ in range(100):
        await asyncio.sleep(0.01)
        if monitor.level(SITE) and await store.get_counter(f"atk:1:{SITE}:c"):
            break
    monitor.record(SITE, "challenge", now=60.0)
    stop.set()
    await task
    assert monitor.level(SITE) == 10
    assert await store.get_counter(f"atk:1:{SITE}:c") == 2  # the final flush sent the last one
    assert monitor.pending == {}


async def test_the_job_reads_its_settings_and_store() -> None:
    store = MemoryStore()
    settings = Settings(env="test")
    ctx = JobContext(settings=settings, resources={"store": store})
    result = await update_attack_levels(ctx, now=3_000_000 * 60.0)
    assert result == {"levels": {}}
    assert await store.get(STATE_KEY) is not None
    off = JobContext(settings=Settings(env="test", risk={"attack": {"enabled": False}}))
    assert await update_attack_levels(off) == {"levels": {}}
