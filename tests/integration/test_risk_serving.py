"""The risk engine through the API: model + signals, IP rate, attack level, model failure.

The human windows are replayed SapiMouse recordings of held-out people
(``tests/fixtures/human_windows.jsonl``, made by ``make_human_windows.py``); the bots come from
``haechi.ml.bots`` with evaluation seeds (never used in training).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from haechi.core.settings import PlanBand, PolicySettings
from haechi.ml import bots
from haechi.ml.evaluate import BOT_SEED0
from haechi.protocol import messages
from haechi.protocol import pow as pow_
from haechi.risk.attack import LEVELS_KEY
from haechi.risk.scoring import RiskInput, RiskResult
from haechi.risk.telemetry import parse_telemetry
from tests.integration.conftest import ORIGIN, Edge, embedded_edge

FIXTURE = Path(__file__).parent.parent / "fixtures" / "human_windows.jsonl"
HUMANS: list[dict[str, Any]] = [orjson.loads(line) for line in FIXTURE.read_bytes().splitlines()]
BOT_SEEDS = range(BOT_SEED0, BOT_SEED0 + 5)

# Light PoW so the suite stays fast; four bands so "harder" is visible in the challenge.
BANDS = [
    PlanBand(max_risk=25, pow_bits=4, pow_count=1),
    PlanBand(max_risk=40, pow_bits=8, pow_count=2),
    PlanBand(max_risk=90, pow_bits=8, pow_count=2, challenges=["glyph"]),
    PlanBand(max_risk=100, pow_bits=8, pow_count=2, block=True),
]


def policy() -> PolicySettings:
    return PolicySettings(bands=BANDS, enabled_test_types=["glyph"])


@pytest.fixture
async def risk_edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async for edge in embedded_edge(tmp_path, policy=policy()):
        yield edge


def linear_bot(seed: int) -> dict[str, Any]:
    """A scripted straight-line mover (pyautogui-style, with easing) for about 5 seconds."""
    return bots.session("linear", seed, duration_ms=5000.0).telemetry()


async def solve(
    edge: Edge, challenge: dict[str, Any], telemetry: dict[str, Any] | None
) -> dict[str, Any]:
    """Solve the proof-of-work (only) and send the telemetry again, as the widget does."""
    p = challenge["pow"]
    nonces = pow_.solve(pow_.PowParams(p["prefix"].split(":")[1], p["bits"], p["count"]))
    body: dict[str, Any] = {
        "v": 1,
        "challenge": challenge["challenge"],
        "solution": {"pow": nonces},
    }
    if telemetry is not None:
        body["telemetry"] = telemetry
    reply = await edge.http.post("/v1/solve", json=body, headers={"origin": ORIGIN})
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


async def friction(edge: Edge, sitekey: str, telemetry: dict[str, Any] | None) -> tuple[int, str]:
    """(rank, outcome) of a visit: rank orders the plans (0 = the lightest PoW, 1 = heavier
    PoW, 2 = a visual task, 3 = denied), outcome is what solving the proof-of-work alone gives
    (token, step_up or a failure code)."""
    body = {"telemetry": telemetry} if telemetry is not None else {}
    reply = await edge.challenge(sitekey, **body)
    assert reply.status_code == 200, reply.text
    challenge = reply.json()
    p = challenge["pow"]
    rank = 0 if (p["bits"], p["count"]) == (4, 1) else 1
    if challenge["task"] is not None:
        rank = 2
    solved = await solve(edge, challenge, telemetry)
    outcome = solved["outcome"] if solved["outcome"] != "fail" else solved["code"]
    if outcome == "denied":
        rank = 3
    elif outcome == "step_up":
        rank = max(rank, 2)
    return rank, outcome


async def human_token(edge: Edge, sitekey: str, telemetry: dict[str, Any]) -> str:
    challenge = (await edge.challenge(sitekey, telemetry=telemetry)).json()
    solved = await solve(edge, challenge, telemetry)
    assert solved["outcome"] == "token", solved
    token: str = solved["token"]
    return token


async def test_a_straight_line_bot_gets_more_friction_than_a_replayed_human(
    risk_edge: Edge,
) -> None:
    site = await risk_edge.create_site()
    humans = [await friction(risk_edge, site.sitekey, h) for h in HUMANS]
    # The three held-out people pass on the lightest plan (v4 asked one of them, at risk 27,
    # for the heavier proof-of-work of the 26-40 band; v5 calibrates the no-task band's edge
    # on people's worst context).
    assert humans.count((0, "token")) == 3, humans
    assert all(outcome in ("token", "step_up") for _, outcome in humans), humans
    bot_visits = [await friction(risk_edge, site.sitekey, linear_bot(s)) for s in BOT_SEEDS]
    assert all(rank > 0 for rank, _ in bot_visits), bot_visits
    # Every bot is riskier than every person, so its plan is the harder one (plans rise with
    # risk): the bots' plans carry a visual task (beyond the no-task band, risk > 10), the
    # people's none.
    scorer = risk_edge.runtime.scorer
    human_risk = [
        (await scorer.score(RiskInput(telemetry=parse_telemetry(h), stage="solve"))).risk
        for h in HUMANS
    ]
    bot_risk = [
        (
            await scorer.score(RiskInput(telemetry=parse_telemetry(linear_bot(s)), stage="solve"))
        ).risk
        for s in BOT_SEEDS
    ]
    assert max(human_risk) <= 10 < min(bot_risk), (human_risk, bot_risk)
    # The difference is the model's, not its fallback's.
    scored = await risk_edge.runtime.scorer.score(
        RiskInput(telemetry=parse_telemetry(HUMANS[0]), stage="solve")
    )
    assert not scored.model.startswith("fallback"), scored


async def test_the_score_at_siteverify_is_the_risk_in_each_dialect(risk_edge: Edge) -> None:
    site = await risk_edge.create_site()
    human = HUMANS[0]
    # The token carries the risk of /v1/solve, where the model judges the movement.
    expected = await risk_edge.runtime.scorer.score(
        RiskInput(telemetry=parse_telemetry(human), stage="solve")
    )
    token = await human_token(risk_edge, site.sitekey, human)
    native = await risk_edge.verify(secret=site.secret, response=token)
    assert native["success"] and native["score"] == (100 - expected.risk) / 100
    # Another person: the same movements twice would be a replay (risk 60).
    other = HUMANS[1]
    expected = await risk_edge.runtime.scorer.score(
        RiskInput(telemetry=parse_telemetry(other), stage="solve")
    )
    token = await human_token(risk_edge, site.sitekey, other)
    google = await risk_edge.verify("/recaptcha/api/siteverify", secret=site.secret, response=token)
    assert google["success"] and google["score"] == ((100 - expected.risk) // 10) / 10
    assert google["score"] >= 0.8  # a person scores near 1.0


async def test_ip_rate_flows_into_the_score(risk_edge: Edge) -> None:
    site = await risk_edge.create_site()
    request = messages.parse_challenge({"v": 1, "sitekey": site.sitekey, "telemetry": HUMANS[1]})
    protocol = risk_edge.runtime.protocol
    calm = await protocol.issue(request, hostname="shop.example.com")
    flood = await protocol.issue(request, hostname="shop.example.com", ip_rate=40.0)
    assert (calm["pow"]["bits"], calm["pow"]["count"]) == (4, 1)
    assert flood["task"] is not None or flood["pow"]["bits"] > 4


async def test_an_attack_level_raises_friction_on_that_site_only(risk_edge: Edge) -> None:
    attacked = await risk_edge.create_site()
    quiet = await risk_edge.create_site()
    runtime = risk_edge.runtime
    await runtime.store.set(LEVELS_KEY, orjson.dumps({attacked.sitekey: 30}), 60)
    await runtime.attack.refresh(runtime.store)
    assert await friction(risk_edge, quiet.sitekey, HUMANS[2]) == (0, "token")
    rank, outcome = await friction(risk_edge, attacked.sitekey, HUMANS[0])  # not a replay
    assert rank == 1 and outcome == "token"  # a person pays more PoW, and gets through
    # Missing telemetry on an attacked site: the most friction, still never a block alone.
    assert (await friction(risk_edge, attacked.sitekey, None))[0] == 2


async def test_challenges_and_failures_are_counted_for_the_attack_level(risk_edge: Edge) -> None:
    site = await risk_edge.create_site()
    runtime = risk_edge.runtime
    await human_token(risk_edge, site.sitekey, HUMANS[0])
    challenge = (await risk_edge.challenge(site.sitekey)).json()
    bad = await risk_edge.solve(challenge, pow=[])
    assert bad.json()["code"] == "invalid-pow"
    await runtime.attack.flush(runtime.store)
    taken = await runtime.store.take_counters("atk:")
    by_event: dict[str, int] = {}
    for key, n in taken.items():
        if f":{site.sitekey}:" in key:
            code = key.rsplit(":", 1)[1]
            by_event[code] = by_event.get(code, 0) + n
    assert by_event == {"c": 2, "s": 1, "f": 1}


async def test_a_model_that_cannot_load_raises_friction_and_blocks_nobody(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00not an onnx file")
    async for edge in embedded_edge(tmp_path, policy=policy(), risk={"model_path": str(broken)}):
        site = await edge.create_site()
        rank, outcome = await friction(edge, site.sitekey, HUMANS[0])
        # The model is asked at /v1/solve: its failure steps the visit up to a visual task
        # (proof-of-work alone does not pass), and nobody is denied.
        assert (rank, outcome) == (2, "step_up")
        reply = await edge.challenge(site.sitekey, telemetry=HUMANS[0])
        assert reply.status_code == 200
        # Missing telemetry never asks the model: its friction is the same as ever.
        assert await friction(edge, site.sitekey, None) == (1, "token")
        expected = await edge.runtime.scorer.score(
            RiskInput(telemetry=parse_telemetry(HUMANS[0]), stage="solve")
        )
        assert expected.reasons[0] == "model-unavailable"


async def test_webdriver_hint_is_denied_even_with_human_movement(risk_edge: Edge) -> None:
    site = await risk_edge.create_site()
    flagged = {**HUMANS[1], "hints": {"webdriver": True}}
    assert await friction(risk_edge, site.sitekey, flagged) == (3, "denied")


async def test_attack_levels_on_each_store(store: Any) -> None:
    """Counts, the minute job and the shared levels on the in-process store and on Redis."""
    from haechi.core.settings import AttackSettings
    from haechi.risk.attack import AttackMonitor, update_levels

    params = AttackSettings()
    start = 29_000_000 * 60.0
    replica_a, replica_b = AttackMonitor(), AttackMonitor()
    for minute in range(31):
        now = start + minute * 60.0
        flood = minute == 30
        for n in range(400 if flood else 20):
            (replica_a if n % 2 else replica_b).record("hk_x:y", "challenge", now)
            (replica_a if n % 2 else replica_b).record("hk_x:y", "solved", now)
        await replica_a.flush(store)
        await replica_b.flush(store)
        levels = await update_levels(store, params, now=now + 70.0)
        assert levels == ({"hk_x:y": 30} if flood else {}), minute
    await replica_b.refresh(store)
    assert replica_b.level("hk_x:y") == 30


class StagedScorer:
    """Risk by stage: what the behaviour model would say only at /v1/solve."""

    def __init__(self, at_challenge: int, at_solve: int) -> None:
        self.risks = {"challenge": at_challenge, "solve": at_solve}

    async def score(self, inp: RiskInput) -> RiskResult:
        return RiskResult(risk=self.risks[inp.stage], reasons=("staged",), model="staged")


async def test_a_visit_that_looks_automated_at_solve_is_stepped_up_to_more_work(
    risk_edge: Edge,
) -> None:
    site = await risk_edge.create_site()
    risk_edge.runtime.protocol.scorer = StagedScorer(5, 30)  # type: ignore[assignment]
    challenge = (await risk_edge.challenge(site.sitekey, telemetry=HUMANS[0])).json()
    assert (challenge["pow"]["bits"], challenge["pow"]["count"]) == (4, 1)
    stepped = await solve(risk_edge, challenge, HUMANS[0])
    assert stepped["outcome"] == "step_up"
    heavier = stepped["challenge"]
    assert heavier["task"] is None and (heavier["pow"]["bits"], heavier["pow"]["count"]) == (8, 2)
    # The heavier work is asked once; doing it gives the token (with the solve-time risk).
    token = await solve(risk_edge, heavier, HUMANS[0])
    assert token["outcome"] == "token", token
    verdict = await risk_edge.verify(secret=site.secret, response=token["token"])
    assert verdict["success"] and verdict["score"] == 0.7


async def test_same_risk_at_solve_asks_nothing_more(risk_edge: Edge) -> None:
    site = await risk_edge.create_site()
    risk_edge.runtime.protocol.scorer = StagedScorer(30, 30)  # type: ignore[assignment]
    challenge = (await risk_edge.challenge(site.sitekey, telemetry=HUMANS[0])).json()
    assert (challenge["pow"]["bits"], challenge["pow"]["count"]) == (8, 2)
    assert (await solve(risk_edge, challenge, HUMANS[0]))["outcome"] == "token"


async def test_behaviour_at_both_judges_the_movement_at_challenge_too(tmp_path: Path) -> None:
    async for edge in embedded_edge(tmp_path, policy=policy(), risk={"behaviour_at": "both"}):
        site = await edge.create_site()
        ranks = [await friction(edge, site.sitekey, linear_bot(s)) for s in BOT_SEEDS]
        # The plan of /v1/challenge already carries the model's judgement.
        challenge = (await edge.challenge(site.sitekey, telemetry=linear_bot(BOT_SEED0))).json()
        assert challenge["task"] is not None or challenge["pow"]["bits"] > 4
        assert all(rank > 0 for rank, _ in ranks), ranks
