"""Telemetry through the API: v2 (what the widget sends) plans like v1, and no telemetry, however
malformed, huge or adversarial, gets anything but a 4xx or an answer with a risk."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from haechi.risk import repeat
from haechi.risk.telemetry import MAX_EVENTS, pack_events, parse_telemetry, to_v2
from tests.integration.conftest import ORIGIN, Edge
from tests.integration.test_risk_serving import (
    BOT_SEEDS,
    HUMANS,
    friction,
    linear_bot,
    risk_edge,  # noqa: F401  (fixture)
)


async def _forget_repeats(edge: Edge, telemetry: dict[str, Any]) -> None:
    """Drop the near-duplicate sketches this telemetry left (haechi.risk.repeat): the same
    session sent again in the other format is, rightly, a replay."""
    parsed = parse_telemetry(
        telemetry, max_bytes=edge.runtime.settings.protocol.max_telemetry_bytes
    )
    for digest in repeat.sketches(parsed):
        await edge.runtime.store.delete(f"tsk:{digest.hex()}")


async def test_v2_plans_what_v1_plans(risk_edge: Edge) -> None:  # noqa: F811
    site = await risk_edge.create_site()
    for telemetry in [*HUMANS, *(linear_bot(s) for s in BOT_SEEDS[:2])]:
        as_v2 = await friction(risk_edge, site.sitekey, to_v2(telemetry))
        await _forget_repeats(risk_edge, telemetry)
        assert as_v2 == await friction(risk_edge, site.sitekey, telemetry)


def _v2(events: dict[str, Any]) -> dict[str, Any]:
    return {"v": 2, "viewport": [800, 600], "pointer": "mouse", "events": events}


_ROW = [[0, "m", 1, 2, -1]]
ADVERSARIAL: list[Any] = [
    {},
    {"v": 1},
    {"v": "1", "events": "m,d,u"},
    {"v": 1, "viewport": [0, -1], "pointer": "finger", "events": [[-5, "m", 1, 2, -1]] * 3},
    {"v": 1, "pointer": "mouse", "events": [[1e300, "m", 1e300, -1e300, 99]] * 10},
    {"v": 1, "pointer": "mouse", "events": [[True, "m", None, "x", [1]], {"t": 1}, "m", 5]},
    {"v": 1, "pointer": "mouse", "events": _ROW * (MAX_EVENTS + 500)},
    {"v": 1, "pointer": "mouse", "events": [[0, "m", 1, 2, -1, "q", "extra"]] * 50},
    {"v": 1, "pointer": "mouse", "events": [], "keys": [[0, "d", 999]] * 600, "hints": []},
    {"v": 1, "hints": {str(i): {"deep": [[[]]]} for i in range(100)}, "dropped": -1},
    _v2({"k": "mm", "d": "not base64!!"}),
    _v2({"k": "m" * 5000, "d": ""}),
    _v2({"k": "mdu", "d": base64.b64encode(bytes(39)).decode(), "p": "zz"}),
    _v2({"k": "mdu", "d": base64.b64encode(bytes([255]) * 39).decode()}),
    _v2({"k": 7, "d": None, "p": []}),
    _v2(pack_events([[i, "m", 1e9, -1e9, -1] for i in range(100)])),
    _v2(pack_events([[2_000_000_000, "q", 0, 0, 127]] * 20)),
    {"v": 2, "events": pack_events(_ROW * (MAX_EVENTS + 100))},
    {"v": 3, "events": {"k": "m"}},
]


@pytest.mark.parametrize("telemetry", ADVERSARIAL)
async def test_adversarial_telemetry_gets_an_answer_never_an_error(
    risk_edge: Edge,  # noqa: F811
    telemetry: Any,
) -> None:
    site = await risk_edge.create_site()
    reply = await risk_edge.challenge(site.sitekey, telemetry=telemetry)
    assert reply.status_code == 200, reply.text
    challenge = reply.json()
    body = {"v": 1, "challenge": challenge["challenge"], "solution": {"pow": []}}
    solved = await risk_edge.http.post(
        "/v1/solve", json={**body, "telemetry": telemetry}, headers={"origin": ORIGIN}
    )
    # A wrong proof-of-work fails before the telemetry is judged; the request still parses it.
    assert solved.status_code == 200 and solved.json()["outcome"] == "fail", solved.text


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (
            b'{"v": 1, "sitekey": "%s", "telemetry": {"v": 1, "events": [[NaN, "m", 1, 2, -1]]}}',
            400,
        ),
        (b'{"v": 1, "sitekey": "%s", "telemetry": [1, 2, 3]}', 400),
        (b'{"v": 1, "sitekey": "%s", "telemetry": "events"}', 400),
    ],
)
async def test_unreadable_requests_are_4xx(risk_edge: Edge, raw: bytes, status: int) -> None:  # noqa: F811
    site = await risk_edge.create_site()
    reply = await risk_edge.http.post(
        "/v1/challenge",
        content=raw.replace(b"%s", site.sitekey.encode()),
        headers={"origin": ORIGIN, "content-type": "application/json"},
    )
    assert reply.status_code == status and reply.json()["error"]["code"] == "bad-request"


async def test_a_million_events_is_refused_before_it_is_read(risk_edge: Edge) -> None:  # noqa: F811
    site = await risk_edge.create_site()
    events = orjson.dumps([[i, "m", 1, 2, -1] for i in range(1_000_000)])
    raw = b'{"v": 1, "sitekey": "%s", "telemetry": {"v": 1, "events": %s}}' % (
        site.sitekey.encode(),
        events,
    )
    reply = await risk_edge.http.post(
        "/v1/challenge", content=raw, headers={"origin": ORIGIN, "content-type": "application/json"}
    )
    assert reply.status_code == 413 and reply.json()["error"]["code"] == "payload-too-large"
