"""The widget's environment checks as the server scores them (docs/telemetry.md, Hints;
docs/risk-model.md, Policy): each alone lifts a person into a visual-task band, never a block."""

from __future__ import annotations

import pytest

from haechi.core.settings import PolicySettings
from haechi.risk.scoring import rests_on_missing
from haechi.risk.signals import POINTS
from haechi.risk.telemetry import parse_telemetry
from tests.unit.test_risk_combined import BLOCK, approach, score, telemetry

FIRST_TASK_BAND = PolicySettings().bands[0].max_risk + 1


@pytest.mark.parametrize(
    ("hints", "rule"),
    [
        ({"ua_mismatch": True}, "ua-mismatch"),
        ({"worker_mismatch": True}, "worker-mismatch"),
        ({"no_ui": True}, "no-browser-ui"),
        ({"untrusted": 1}, "untrusted-input"),
        ({"untrusted": 40}, "untrusted-input"),
        # Measured: Playwright's page.mouse on Chromium/X11, 30 moves, 21 off the grid.
        ({"clock_n": 30, "clock_off": 21}, "synthetic-input-clock"),
        ({"clock_n": 4, "clock_off": 3}, "synthetic-input-clock"),
    ],
)
def test_each_check_alone_means_a_task_not_a_block(hints: dict[str, object], rule: str) -> None:
    result = score(telemetry(approach(), hints=hints))
    assert result.reasons == (rule,)
    assert result.risk == 5 + POINTS[rule]
    assert FIRST_TASK_BAND <= result.risk < BLOCK
    assert not rests_on_missing(result)


def test_consistent_browsers_add_nothing() -> None:
    hints = {"ua_mismatch": False, "worker_mismatch": False, "no_ui": False, "untrusted": 0}
    result = score(telemetry(approach(), hints=hints))
    assert (result.risk, result.reasons) == (5, ())


def test_checks_add_up_to_a_block_with_other_evidence() -> None:
    hints = {"ua_mismatch": True, "worker_mismatch": True}
    result = score(telemetry(approach(), hints=hints))
    assert result.risk >= BLOCK
    assert set(result.reasons) == {"ua-mismatch", "worker-mismatch"}


@pytest.mark.parametrize(
    "hints",
    [
        {"clock_n": 278, "clock_off": 0},  # the system's own input (xdotool, measured)
        {"clock_n": 3, "clock_off": 3},  # too few events to judge
        {"clock_n": 30, "clock_off": 2},  # a stray few: not enough
        {"clock_n": 300, "clock_off": 60},  # under a third
        {"clock_off": 20},  # no count: not judged (not Chromium/X11)
    ],
)
def test_the_input_clock_needs_enough_events_off_the_grid(hints: dict[str, object]) -> None:
    result = score(telemetry(approach(), hints=hints))
    assert (result.risk, result.reasons) == (5, ())


def test_the_hints_are_read_and_bad_values_are_anomalies() -> None:
    good = parse_telemetry(telemetry([], hints={"ua_mismatch": True, "untrusted": 3}))
    assert dict(good.hints) == {"ua_mismatch": True, "untrusted": 3}
    assert good.anomalies == 0
    # Booleans are never numbers, and a count is never a boolean.
    bad = parse_telemetry(telemetry([], hints={"untrusted": True, "no_ui": 1}))
    assert dict(bad.hints) == {} and bad.anomalies == 2


def test_a_recorder_with_nothing_yet_waits_for_input_and_is_judged_at_solve() -> None:
    """A widget that starts with the page asks before the visitor moved: its challenge is the
    proof-of-work alone (``await_input``), and the same emptiness at /v1/solve is missing
    telemetry (a task), so no token ever rests on telemetry nobody judged."""
    from haechi.risk.scoring import AWAITING_INPUT, CombinedScorer, RiskInput
    from tests.unit.test_risk_combined import FixedModel

    empty = parse_telemetry(telemetry([]))
    scorer = CombinedScorer(FixedModel(99))
    at_challenge = scorer.score(RiskInput(telemetry=empty, stage="challenge"))
    assert (at_challenge.risk, at_challenge.reasons) == (0, (AWAITING_INPUT,))
    assert rests_on_missing(at_challenge)
    at_solve = scorer.score(RiskInput(telemetry=empty, stage="solve"))
    assert (at_solve.risk, at_solve.reasons) == (30, ("no-telemetry",))
    # No telemetry object at all (an HTTP client) is missing at both ends.
    absent = scorer.score(RiskInput(telemetry=parse_telemetry(None), stage="challenge"))
    assert absent.reasons == ("no-telemetry",) and absent.risk == 30
