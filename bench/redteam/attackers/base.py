"""The interface every red-team attacker implements; the runner (``bench/redteam/run.py``)
imports ``ATTACKERS: list[type[Attacker]]`` from each module in this folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Challenge:
    """One live challenge as a browser gets it."""

    type: str  # "grid" | "abstract" | "handwriting" | "audio"
    task: dict  # type: ignore[type-arg]  # the public task (docs/schemas/challenge-task.v1.json)
    fetch: Callable[[str], bytes]  # GET one of the task's blob URLs from the live server


class Attacker:
    """A bot. ``solve`` returns a submission (docs/schemas/challenge-submission.v1.json)."""

    name: str = ""  # e.g. "grid/trained-cnn"
    family: str = ""  # "random" | "off-the-shelf" | "own-model" | "trained" | "memoriser"
    types: tuple[str, ...] = ()
    # The stated budget, e.g. "20,000 generated tiles (seed 777), 8 CPU-min training".
    budget: str = ""

    def prepare(self, workdir: Path, quick: bool) -> None:
        """Train or load; cache in ``workdir``. ``quick``: the CI smoke (seconds, tiny)."""

    def solve(self, ch: Challenge) -> dict:  # type: ignore[type-arg]
        raise NotImplementedError

    def learn(self, ch: Challenge, answer: object) -> None:
        """Harvested, labelled examples (memorisers); the default ignores them."""
