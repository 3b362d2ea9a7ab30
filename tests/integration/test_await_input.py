"""A widget that starts with the page asks for its challenge before the visitor did anything:
the challenge is the proof-of-work alone and says ``await_input``; the visit is judged at
/v1/solve, where telemetry that is still empty gets a step-up, never a token."""

from __future__ import annotations

from typing import Any

from haechi.protocol import pow as pow_
from tests.integration.conftest import ORIGIN, Edge
from tests.integration.test_protocol import _human_telemetry

EMPTY: dict[str, Any] = {"v": 1, "viewport": [1280, 720], "pointer": "mouse", "events": []}


async def test_empty_recorder_waits_and_empty_solve_is_stepped_up(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    # The test edge's bands: <= 40 proof-of-work, 41-90 a (glyph) task; "high" adds 15.
    await quick_edge.set_security_level(site.sitekey, "high")
    challenge = (await quick_edge.challenge(site.sitekey, telemetry=EMPTY)).json()
    assert challenge["task"] is None and challenge["await_input"] is True
    p = challenge["pow"]
    nonces = pow_.solve(pow_.PowParams(p["prefix"].split(":")[1], p["bits"], p["count"]))
    body = {"challenge": challenge["challenge"], "solution": {"pow": nonces}, "telemetry": EMPTY}
    reply = await quick_edge.http.post("/v1/solve", json=body, headers={"origin": ORIGIN})
    stepped = reply.json()
    # Still nothing at solve: missing telemetry (30 + 15), the task band.
    assert stepped["outcome"] == "step_up"
    assert stepped["challenge"]["task"]["type"] == "glyph"


async def test_no_telemetry_object_gets_no_await_flag(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    challenge = (await quick_edge.challenge(site.sitekey)).json()
    assert "await_input" not in challenge


async def test_test_level_sites_never_wait(quick_edge: Edge) -> None:
    """Browser tests on a ``test``-level site get their token without input."""
    site = await quick_edge.create_site()
    await quick_edge.set_security_level(site.sitekey, "test")
    challenge = (await quick_edge.challenge(site.sitekey, telemetry=EMPTY)).json()
    assert "await_input" not in challenge


async def test_solve_telemetry_sent_twice_is_a_replay(quick_edge: Edge) -> None:
    """The second visit that sends the same movements (a bot replaying a person's recording)
    gets no invisible token: risk at least 60, the task band here."""
    site = await quick_edge.create_site()
    human = _human_telemetry()
    outcomes = []
    for _ in range(2):
        challenge = (await quick_edge.challenge(site.sitekey)).json()
        p = challenge["pow"]
        nonces = pow_.solve(pow_.PowParams(p["prefix"].split(":")[1], p["bits"], p["count"]))
        body = {
            "challenge": challenge["challenge"],
            "solution": {"pow": nonces},
            "telemetry": human,
        }
        reply = await quick_edge.http.post("/v1/solve", json=body, headers={"origin": ORIGIN})
        outcomes.append(reply.json()["outcome"])
    assert outcomes == ["token", "step_up"], outcomes
