"""The red team's statistics: Wilson intervals, exact random-guess baselines, verdicts."""

from __future__ import annotations

import math
from collections.abc import Iterable

Z95 = 1.959963984540054
# Targets, judged on the upper bound of the 95% interval, by attacker family. Random guessing
# is the baseline's check, not judged: at 1,000 trials its own 0.2% reaches a 1% bound by chance.
TARGETS = {
    "off-the-shelf": 0.01,
    "own-model": 0.01,
    "trained": 0.10,
    "memoriser": 0.10,
}


def wilson(passes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (good at rates near 0 and 1)."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= passes <= n:
        raise ValueError("passes must be in 0..n")
    p = passes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp away float dust: 0 passes has lower bound exactly 0, n passes upper exactly 1.
    low = 0.0 if passes == 0 else max(0.0, centre - half)
    high = 1.0 if passes == n else min(1.0, centre + half)
    return (low, high)


def select_subsets(cells: int, low: int, high: int) -> int:
    """How many submissions a ``select`` task accepts as well-formed: subsets of ``cells``
    cells of size ``low``..``high``."""
    low, high = max(low, 0), min(high, cells)
    return sum(math.comb(cells, k) for k in range(low, high + 1))


def select_baseline(task: dict) -> float:  # type: ignore[type-arg]
    """Chance that one uniformly random well-formed selection is the answer."""
    select = task["select"]
    return 1.0 / select_subsets(len(task["cells"]), int(select["min"]), int(select["max"]))


def digits_baseline(lengths: Iterable[int]) -> float:
    """Chance that a random digit string of the right length is the answer, averaged over the
    answers served (a guesser that even knows the length)."""
    values = [10.0**-n for n in lengths]
    return sum(values) / len(values) if values else 0.0


def target_for(family: str) -> float | None:
    return TARGETS.get(family)


def verdict(family: str, passes: int, n: int) -> str:
    """ "pass" when the 95% upper bound is under the family's target, else "FAIL"."""
    target = target_for(family)
    if target is None or n == 0:
        return "-"
    return "pass" if wilson(passes, n)[1] < target else "FAIL"
