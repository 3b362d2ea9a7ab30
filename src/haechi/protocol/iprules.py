"""IP rules as the edge holds them: a site's (and its organisation's) allow and deny lists,
turned at load into sorted, merged integer ranges per address family, so that one lookup is one
address-to-integer conversion and at most two binary searches, however many rules there are.

Deny wins over allow: an address in both lists is denied (docs/platform.md, "IP rules"). Rules
carry an optional expiry; the set remembers the earliest one and rebuilds its ranges from the
rules it keeps when that moment passes, so an expired rule stops applying without a reload.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NONE = 0
ALLOW = 1
DENY = 2

_NEVER = float("inf")


@dataclass(frozen=True, slots=True)
class EdgeRule:
    """One rule: an inclusive range of addresses of one family (4 or 6), its action
    (``ALLOW`` or ``DENY``) and its expiry in unix seconds (None: never)."""

    family: int
    first: int
    last: int
    action: int
    expires: float | None = None


class _Ranges:
    """Disjoint, sorted, inclusive ranges: ``starts[i] <= x <= ends[i]``."""

    __slots__ = ("ends", "starts")

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        starts: list[int] = []
        ends: list[int] = []
        for first, last in sorted(ranges):
            if ends and first <= ends[-1] + 1:  # overlapping or adjacent: merge
                if last > ends[-1]:
                    ends[-1] = last
            else:
                starts.append(first)
                ends.append(last)
        self.starts = starts
        self.ends = ends

    def contains(self, value: int) -> bool:
        i = bisect_right(self.starts, value) - 1
        return i >= 0 and value <= self.ends[i]

    def __len__(self) -> int:
        return len(self.starts)


_EMPTY = _Ranges(())


class IpRuleSet:
    """The rules that apply to one site, ready for lookups (see the module's docstring)."""

    __slots__ = (
        "_allow4",
        "_allow6",
        "_deny4",
        "_deny6",
        "_next_expiry",
        "_rules",
        "allow_skips_friction",
    )

    def __init__(
        self, rules: Sequence[EdgeRule], *, allow_skips_friction: bool = False, now: float = 0.0
    ) -> None:
        self.allow_skips_friction = allow_skips_friction
        self._rules: list[EdgeRule] = list(rules)
        self._allow4 = _EMPTY
        self._allow6 = _EMPTY
        self._deny4 = _EMPTY
        self._deny6 = _EMPTY
        self._next_expiry = _NEVER
        self._build(now)

    def _build(self, now: float) -> None:
        kept = [r for r in self._rules if r.expires is None or r.expires > now]
        self._rules = kept
        buckets: dict[tuple[int, int], list[tuple[int, int]]] = {}
        next_expiry = _NEVER
        for rule in kept:
            buckets.setdefault((rule.family, rule.action), []).append((rule.first, rule.last))
            if rule.expires is not None and rule.expires < next_expiry:
                next_expiry = rule.expires
        self._allow4 = _Ranges(buckets.get((4, ALLOW), ()))
        self._allow6 = _Ranges(buckets.get((6, ALLOW), ()))
        self._deny4 = _Ranges(buckets.get((4, DENY), ()))
        self._deny6 = _Ranges(buckets.get((6, DENY), ()))
        self._next_expiry = next_expiry

    def __len__(self) -> int:
        """Rules still in force (as of the last lookup)."""
        return len(self._rules)

    def match(self, ip: str, now: float) -> int:
        """``DENY``, ``ALLOW`` or ``NONE`` for a client address in its canonical text form
        (``haechi.core.net.client_ip``); an address that does not parse matches nothing."""
        if now >= self._next_expiry:
            self._build(now)
        if ":" in ip:
            family, deny, allow = socket.AF_INET6, self._deny6, self._allow6
        else:
            family, deny, allow = socket.AF_INET, self._deny4, self._allow4
        try:
            value = int.from_bytes(socket.inet_pton(family, ip), "big")
        except (OSError, ValueError):
            return NONE
        if deny.starts and deny.contains(value):
            return DENY
        if allow.starts and allow.contains(value):
            return ALLOW
        return NONE
