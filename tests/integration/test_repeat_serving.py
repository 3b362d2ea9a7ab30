"""Near-duplicate repeat detection through the API: a copy of a person's solve with every event
moved by a pixel and a millisecond is stepped up (``replayed-telemetry``); another person is not."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from haechi.protocol.service import REPLAY_RISK, REPLAYED
from haechi.risk import repeat
from haechi.risk.telemetry import parse_telemetry
from tests.integration.conftest import Edge, embedded_edge
from tests.integration.test_risk_serving import HUMANS, policy, solve


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async for e in embedded_edge(tmp_path, policy=policy()):
        yield e


def _perturbed(obj: dict[str, Any], seed: int) -> dict[str, Any]:
    """17a's ``http/copied-perturbed``: every event moved by -1/0/+1 px and ms."""
    rng = random.Random(seed)
    events, last = [], 0
    for t, kind, x, y, *rest in obj["events"]:
        last = max(last, t + rng.randint(-1, 1))
        events.append([last, kind, x + rng.randint(-1, 1), y + rng.randint(-1, 1), *rest])
    return {**obj, "events": events}


async def _visit(edge: Edge, sitekey: str, telemetry: dict[str, Any]) -> dict[str, Any]:
    reply = await edge.challenge(sitekey, telemetry=telemetry)
    assert reply.status_code == 200, reply.text
    return await solve(edge, reply.json(), telemetry)


async def test_a_perturbed_copy_of_a_solve_is_stepped_up(edge: Edge) -> None:
    site = await edge.create_site()
    person, other = HUMANS[0], HUMANS[1]
    copy = _perturbed(person, 1)
    mine, theirs = repeat.sketches(parse_telemetry(person)), repeat.sketches(parse_telemetry(copy))
    assert copy["events"] != person["events"] and set(mine) & set(theirs)
    assert (await _visit(edge, site.sitekey, person))["outcome"] == "token"
    # The copy (the exact digest differs) lands in the visual-task band: REPLAY_RISK.
    assert 40 < REPLAY_RISK <= 90
    assert (await _visit(edge, site.sitekey, copy))["outcome"] == "step_up"
    # Another person's movement shares nothing with the first: a token, as before.
    assert (await _visit(edge, site.sitekey, other))["outcome"] == "token"


async def test_the_reason_is_replayed_telemetry(edge: Edge) -> None:
    service = edge.runtime.protocol
    person = HUMANS[2]
    assert not await service._replayed(person)
    assert await service._replayed(_perturbed(person, 2))
    # Recording only (a task's solve) never says "seen" but records: the next copy is seen.
    assert not await service._replayed(_perturbed(HUMANS[1], 3), check=False)
    assert await service._replayed(_perturbed(HUMANS[1], 4))
    assert REPLAYED == "replayed-telemetry"
