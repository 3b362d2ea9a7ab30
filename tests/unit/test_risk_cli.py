"""``haechi risk score|train|evaluate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from haechi.cli import main
from haechi.risk import cli as risk_cli
from haechi.risk.engine import LazyBehaviour, shipped_model_loader
from haechi.risk.scoring import CombinedScorer, RiskInput
from haechi.risk.telemetry import parse_telemetry


def human(seed: int) -> dict[str, Any]:
    events: list[list[Any]] = []
    t = 50 + seed
    for i in range(40):
        s = i / 39
        s = s * s * s * (10 - 15 * s + 6 * s * s)
        events.append(
            [t, "m", round(100 + 300 * s + 40 * s * (1 - s), 1), round(200 + 90 * s, 1), -1]
        )
        t += 16 if i % 3 else 17
    events += [[t + 30, "d", 400.0, 290.0, 0], [t + 120, "u", 400.0, 290.0, 0]]
    return {"v": 1, "viewport": [1280, 720], "pointer": "mouse", "events": events, "keys": []}


def expected(obj: object, ip_rate: float | None = None) -> dict[str, Any]:
    """What the serving scorer gives at /v1/solve, where the model judges a visit."""
    scorer = CombinedScorer(LazyBehaviour(shipped_model_loader()))
    inp = RiskInput(telemetry=parse_telemetry(obj), ip_rate=ip_rate, stage="solve")
    result = scorer.score(inp)
    return {
        "risk": result.risk,
        "reasons": list(result.reasons),
        "model": result.model,
        "stage": "solve",
    }


def run(*args: str, stdin: bytes | None = None) -> Any:
    return CliRunner().invoke(main, ["risk", *args], input=stdin)


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_score_one_object_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(human(1), indent=2))  # pretty-printed: still one object
    result = run("score", str(path))
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [expected(human(1))]


def test_score_json_lines_from_stdin_with_a_bad_line() -> None:
    stdin = b"\n".join(
        [
            orjson.dumps(human(1)),
            b"",  # blank lines are skipped
            b'{"v": 1, "events": [',  # broken
            b"42",  # JSON, but not a telemetry object
            orjson.dumps({"v": 1, "viewport": None, "pointer": "mouse", "events": []}),
            orjson.dumps(human(2)),
        ]
    )
    result = run("score", "-", stdin=stdin)
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert len(out) == 5
    assert out[0] == expected(human(1))
    assert out[1]["line"] == 3 and out[1]["error"].startswith("not valid JSON")
    assert out[2] == {"line": 4, "error": "not a telemetry object"}
    assert out[3]["reasons"] == ["no-telemetry"] and out[3]["risk"] == 30
    assert out[4] == expected(human(2))


def test_score_an_array_and_the_ip_rate_option() -> None:
    stdin = orjson.dumps([human(3), None])
    result = run("score", "--ip-rate", "40", "-", stdin=stdin)
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert out[0] == expected(human(3), ip_rate=40.0)
    assert "ip-rate" in out[0]["reasons"]
    assert out[1] == {"line": 2, "error": "not a telemetry object"}


def test_the_stage_changes_what_is_computed() -> None:
    """As the edge does with risk.behaviour_at = "solve": /v1/challenge plans without the
    model, /v1/solve runs it; with "both" the challenge stage runs it too."""
    bot = {
        "v": 1,
        "viewport": [1280, 720],
        "pointer": "mouse",
        "events": [[i * 10, "m", 100 + 5 * i, 200, -1] for i in range(60)]
        + [[605, "d", 400, 200, 0], [705, "u", 400, 200, 0]],
        "keys": [],
    }
    stdin = orjson.dumps(bot)
    solve = lines(run("score", "--stage", "solve", "-", stdin=stdin).stdout)[0]
    challenge = lines(run("score", "--stage", "challenge", "-", stdin=stdin).stdout)[0]
    both = lines(
        run("score", "--stage", "challenge", "--behaviour-at", "both", "-", stdin=stdin).stdout
    )[0]
    assert challenge["stage"] == "challenge" and solve["stage"] == "solve"
    assert challenge["reasons"][0] == "behaviour-at-solve" and challenge["risk"] <= 10
    assert solve["risk"] > 40 and any(r.startswith("model:") for r in solve["reasons"])
    assert both["risk"] == solve["risk"] and both["reasons"] == solve["reasons"]


def test_hostile_telemetry_scores_high_instead_of_crashing() -> None:
    hostile = {
        "v": 1,
        "viewport": [1e300, -1],
        "pointer": "mouse",
        "events": [
            [-5, "m", float("1e308"), 0, -1],
            ["x"] * 6,
            *[[i, "m", 1, 1, -1] for i in range(3000)],
        ],
        "hints": {"webdriver": "yes"},
    }
    result = run("score", "-", stdin=orjson.dumps(hostile))
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)[0]
    assert out["risk"] >= 45 and "anomalies" in out["reasons"]


def test_unreadable_input_is_the_only_failure(tmp_path: Path) -> None:
    result = run("score", str(tmp_path / "missing.json"))
    assert result.exit_code != 0
    assert "missing.json" in result.output


def test_score_with_a_broken_model_file_warns_and_scores_as_friction(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    result = run("score", "--model", str(broken), "-", stdin=orjson.dumps(human(4)))
    assert result.exit_code == 0
    out = lines(result.stdout)[0]
    assert out["model"] == "fallback+signals-v1"
    assert out["reasons"][0] == "model-unavailable" and out["risk"] >= 45
    assert "did not load" in result.stderr


def test_train_without_the_train_extra_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_torch(name: str) -> Any:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(risk_cli.importlib, "import_module", no_torch)
    for command in ("train", "evaluate"):
        result = run(command, "--epochs", "1")
        assert result.exit_code == 2
        assert "haechi[train]" in result.stderr and "torch" in result.stderr


def test_train_and_evaluate_pass_their_arguments_through(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, list[str]]] = []

    class Entry:
        def __init__(self, name: str) -> None:
            self.name = name

        def main(self, argv: list[str]) -> int:
            seen.append((self.name, argv))
            return 3

    monkeypatch.setattr(risk_cli.importlib, "import_module", Entry)
    assert run("train", "--seed", "7", "--help").exit_code == 3
    assert run("evaluate", "--split", "test").exit_code == 3
    assert seen == [
        ("haechi.ml.train", ["--seed", "7", "--help"]),
        ("haechi.ml.generalise", ["--split", "test"]),
    ]
