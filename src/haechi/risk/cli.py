"""``haechi risk``: score telemetry files, train and evaluate the behaviour model.

``score`` runs the edge's risk engine (``RiskEngine`` over ``CombinedScorer``, built from the
same settings as ``haechi serve``: model, thresholds, ``risk.behaviour_at``) in the calling
thread, so a recording scores here exactly as it would at ``/v1/challenge`` or ``/v1/solve``
(``--stage``; with the same request signals, minus what only a live request has, unless
``--ip-rate`` gives it). With the default ``risk.behaviour_at = "solve"`` the challenge stage
plans without the behaviour model (base 0, ``behaviour-at-solve``) and the solve stage runs it.
``train`` and ``evaluate`` hand their arguments to
``haechi.ml``, which needs the ``train`` extra; they are imported only when called.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import click
import orjson

from haechi.core.settings import Settings
from haechi.risk.engine import LazyBehaviour, RiskEngine, shipped_model_loader
from haechi.risk.scoring import CombinedScorer, RiskInput, RiskResult
from haechi.risk.signals import IpRateRule
from haechi.risk.telemetry import parse_telemetry

TRAIN_EXTRA_MODULES = frozenset({"torch", "onnx", "onnxscript"})


@click.group("risk")
def risk() -> None:
    """Score telemetry; train and evaluate the behaviour model."""


def _records(data: bytes) -> Iterator[tuple[int, Any, str | None]]:
    """(line, value, error): the whole input as one JSON value when it is one (an object, or
    an array of objects), else JSON lines; blank lines are skipped."""
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    else:
        if isinstance(whole, list):
            for n, item in enumerate(whole, 1):
                yield n, item, None
        else:
            yield 1, whole, None
        return
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, orjson.loads(line), None
        except orjson.JSONDecodeError as error:
            yield n, None, f"not valid JSON: {error}"


def edge_engine(model_path: Path | None, behaviour_at: str | None = None) -> RiskEngine:
    """The engine ``haechi serve`` builds (``runtime.build_risk_engine``), scoring in the
    calling thread: the same model, thresholds, signals and ``risk.behaviour_at``."""
    settings = Settings()
    risk_settings = settings.risk
    scorer = CombinedScorer(
        LazyBehaviour(shipped_model_loader(model_path or risk_settings.model_path)),
        missing_telemetry_risk=settings.policy.missing_telemetry_risk,
        model_failure_risk=risk_settings.model_failure_risk,
        ip_rate_rule=IpRateRule(
            risk_settings.ip_rate_low, risk_settings.ip_rate_high, risk_settings.ip_rate_points
        ),
    )
    at = behaviour_at or risk_settings.behaviour_at
    return RiskEngine(scorer, offload=False, behaviour_at_challenge=at == "both")


@risk.command("score")
@click.argument("source", type=click.File("rb"))
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An ONNX behaviour model (default: the served one, risk.model_path or shipped).",
)
@click.option("--ip-rate", type=float, default=None, help="Requests/s to assume from the IP.")
@click.option(
    "--stage",
    type=click.Choice(["challenge", "solve"]),
    default="solve",
    help="Score as /v1/challenge or /v1/solve (default) would.",
)
@click.option(
    "--behaviour-at",
    type=click.Choice(["solve", "both"]),
    default=None,
    help="Where the model runs (default: the setting risk.behaviour_at).",
)
def score(
    source: IO[bytes],
    model_path: Path | None,
    ip_rate: float | None,
    stage: str,
    behaviour_at: str | None,
) -> None:
    """Score telemetry from FILE (or - for stdin): one object, an array of objects, or JSON
    lines of objects. Prints one JSON line per input: risk, reasons, model and stage, or an
    error."""
    try:
        data = source.read()
    except OSError as error:
        raise click.ClickException(f"cannot read {source.name}: {error}") from None
    engine = edge_engine(model_path, behaviour_at)
    asyncio.run(_score_all(engine, data, ip_rate, "solve" if stage == "solve" else "challenge"))


async def _score_all(
    engine: RiskEngine, data: bytes, ip_rate: float | None, stage: Literal["challenge", "solve"]
) -> None:
    warned = False
    for line, value, problem in _records(data):
        if problem is None and not isinstance(value, dict):
            problem = "not a telemetry object"
        if problem is not None:
            click.echo(orjson.dumps({"line": line, "error": problem}).decode())
            continue
        inp = RiskInput(telemetry=parse_telemetry(value), ip_rate=ip_rate, stage=stage)
        result: RiskResult = await engine.score(inp)
        if not warned and "model-unavailable" in result.reasons:
            warned = True
            click.echo("warning: the behaviour model did not load; scores are fallbacks", err=True)
        out = {
            "risk": result.risk,
            "reasons": list(result.reasons),
            "model": result.model,
            "stage": stage,
        }
        click.echo(orjson.dumps(out).decode())


def _run_ml(module: str, args: tuple[str, ...]) -> None:
    try:
        entry = importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing in TRAIN_EXTRA_MODULES:
            click.echo(
                f"{module} needs the 'train' extra ({missing} is not installed): "
                "pip install 'haechi[train]'",
                err=True,
            )
        else:
            click.echo(f"{module} is not available in this installation: {error}", err=True)
        sys.exit(2)
    code = entry.main(list(args))
    sys.exit(code if isinstance(code, int) else 0)


_PASS_THROUGH = {"ignore_unknown_options": True, "help_option_names": []}


@risk.command("train", context_settings=_PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train(args: tuple[str, ...]) -> None:
    """Train the behaviour model (haechi.ml.train; its --help lists the options)."""
    _run_ml("haechi.ml.train", args)


@risk.command("evaluate", context_settings=_PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def evaluate(args: tuple[str, ...]) -> None:
    """Evaluate the served model on held-out people in other contexts and on every bot family,
    judged at the served policy's no-task band (haechi.ml.generalise; see its --help). The
    earlier per-family table is ``python -m haechi.ml.evaluate``."""
    _run_ml("haechi.ml.generalise", args)
