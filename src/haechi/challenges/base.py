"""The interface every challenge type implements, and the registry the protocol looks them up in.

A type generates a *public task* (what the browser renders) and an *answer* (what the protocol
seals into the challenge, so it never reaches the browser), and later checks a visitor's
*submission* against that answer. One attempt per challenge: the protocol spends the challenge
before ``check`` runs. Public tasks and submissions follow the JSON schemas in
``docs/schemas/challenge-task.v1.json`` and ``docs/schemas/challenge-submission.v1.json``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

JSON = Any
LOCALES = ("en", "ko")


@dataclass(frozen=True, slots=True)
class ChallengeContext:
    """What a type may know about the request it generates for."""

    sitekey: str
    hostname: str
    # Resources provided by the app (blob store, models) keyed by name.
    resources: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    # Why it failed, for logs and metrics; never shown to the visitor in detail.
    reason: str | None = None
    # Optional signals the risk engine may use (e.g. drawing timing), never the answer.
    signals: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class ChallengeType(Protocol):
    name: str
    # Types that exist for tests only are offered only when the policy enables them.
    test_only: bool

    async def generate(
        self, ctx: ChallengeContext, rng: random.Random, difficulty: float, locale: str
    ) -> tuple[dict[str, JSON], JSON]:
        """Return (public task, answer). ``difficulty`` is 0.0 (easiest) to 1.0."""
        ...

    def check(self, answer: JSON, submission: JSON) -> CheckResult | Awaitable[CheckResult]:
        """Never raises on any submission. A type whose check is expensive (a model run)
        returns an awaitable and does the heavy part off the event loop."""
        ...

    # Optional: ``def available(self) -> bool``. A type that can run dry (its pool is empty or
    # too small) defines it; while it returns False the registry treats the type as not
    # installed, so the policy falls back. Pool-backed types: ``haechi.challenges.pool``.


class ChallengeRegistry:
    def __init__(self) -> None:
        self._types: dict[str, ChallengeType] = {}

    def register(self, kind: ChallengeType) -> None:
        if kind.name in self._types:
            raise ValueError(f"challenge type {kind.name!r} is already registered")
        self._types[kind.name] = kind

    def get(self, name: str) -> ChallengeType | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)

    def usable(self, name: str, enabled_test_types: list[str]) -> bool:
        """Installed, enabled, and — for a type with an optional ``available()`` method, such
        as one serving from a pool that may be empty — able to generate right now."""
        kind = self._types.get(name)
        if kind is None or (kind.test_only and name not in enabled_test_types):
            return False
        available = getattr(kind, "available", None)
        return bool(available()) if callable(available) else True


def pick_locale(locale: str | None) -> str:
    if locale:
        short = locale.strip().lower()[:2]
        if short in LOCALES:
            return short
    return "en"
