"""``haechi risk``: score telemetry files, train and evaluate the behaviour model.

``score`` is the serving scorer run in the calling thread, so a recording scores here exactly
as it would at ``/v1/challenge`` (with the same request signals, minus what only a live request
has, unless ``--ip-rate`` gives it). ``train`` and ``evaluate`` hand their arguments to
``haechi.ml``, which needs the ``train`` extra; they are imported only when called.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import orjson

from haechi.risk.engine import LazyBehaviour, shipped_model_loader
from haechi.risk.scoring import CombinedScorer, RiskInput
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


@risk.command("score")
@click.argument("source", type=click.File("rb"))
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An ONNX behaviour model (default: the shipped one).",
)
@click.option("--ip-rate", type=float, default=None, help="Requests/s to assume from the IP.")
@click.option("--stage", type=click.Choice(["challenge", "solve"]), default="challenge")
def score(source: IO[bytes], model_path: Path | None, ip_rate: float | None, stage: str) -> None:
    """Score telemetry from FILE (or - for stdin): one object, an array of objects, or JSON
    lines of objects. Prints one JSON line per input: risk, reasons and model, or an error."""
    try:
        data = source.read()
    except OSError as error:
        raise click.ClickException(f"cannot read {source.name}: {error}") from None
    behaviour = LazyBehaviour(shipped_model_loader(model_path))
    scorer = CombinedScorer(behaviour)
    warned = False
    for line, value, problem in _records(data):
        if problem is None and not isinstance(value, dict):
            problem = "not a telemetry object"
        if problem is not None:
            click.echo(orjson.dumps({"line": line, "error": problem}).decode())
            continue
        inp = RiskInput(
            telemetry=parse_telemetry(value),
            ip_rate=ip_rate,
            stage="solve" if stage == "solve" else "challenge",
        )
        result = scorer.score(inp)
        if not warned and "model-unavailable" in result.reasons:
            warned = True
            click.echo("warning: the behaviour model did not load; scores are fallbacks", err=True)
        out = {"risk": result.risk, "reasons": list(result.reasons), "model": result.model}
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
