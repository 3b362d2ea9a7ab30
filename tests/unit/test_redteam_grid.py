"""The grid red-team attackers on their own, on challenges composed from a local pool: they read
the prompt, label the cells and return well-formed submissions; the shipped model, which the pool
is filtered with, solves every one (the runner measures the rest against a live server)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from bench.redteam.attackers.base import Attacker, Challenge
from bench.redteam.attackers.grid import (
    ATTACKERS,
    ColorStats,
    OwnModel,
    TrainedCNN,
    local_challenges,
)

from tests.skips import NO_TRAIN

SUBMISSION = json.loads(
    (Path(__file__).resolve().parents[2] / "docs/schemas/challenge-submission.v1.json").read_text()
)


@pytest.fixture(scope="module")
async def challenges(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Challenge, list[str]]]:
    return await local_challenges(64, 8, 0.5, tmp_path_factory.mktemp("grid-redteam"))


def test_attackers_state_name_family_and_budget() -> None:
    names = {a.name for a in ATTACKERS}
    assert names == {"grid/own-model", "grid/trained-cnn", "grid/color-stats"}
    for attacker in ATTACKERS:
        assert attacker.types == ("grid",) and attacker.family and attacker.budget


def test_the_shipped_model_solves_what_it_filtered(
    challenges: list[tuple[Challenge, list[str]]], tmp_path: Path
) -> None:
    attacker = OwnModel()
    attacker.prepare(tmp_path, quick=True)
    for ch, answer in challenges:
        submission = attacker.solve(ch)
        jsonschema.validate(submission, SUBMISSION)
        assert sorted(submission["cells"]) == answer


@pytest.mark.parametrize("attacker_type", [ColorStats, TrainedCNN])
def test_trained_attackers_submit_well_formed_selections(
    attacker_type: type[Attacker], challenges: list[tuple[Challenge, list[str]]], tmp_path: Path
) -> None:
    pytest.importorskip("torch", reason=NO_TRAIN)  # both train on generated tiles
    attacker = attacker_type()
    attacker.prepare(tmp_path, quick=True)
    for ch, _ in challenges:
        submission = attacker.solve(ch)
        jsonschema.validate(submission, SUBMISSION)
        ids = {c["id"] for c in ch.task["cells"]}
        assert 1 <= len(submission["cells"]) <= 9 and set(submission["cells"]) <= ids
