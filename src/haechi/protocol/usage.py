"""The usage counters' wire format: one counter per site, event and UTC hour.

The edge counts ``usage:{YYYYMMDDHH}:{sitekey}:{event}`` through its CounterBuffer; the platform's
roll-up job parses the same keys back (``UsageKey.from_wire``) into hourly and daily rows.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime

USAGE_PREFIX = "usage:"
# What the edge counts (docs/usage-and-billing.md).
EVENTS = ("challenges", "solves", "verifies")


@functools.lru_cache(maxsize=4)
def _utc_hour(hour_number: int) -> str:
    return time.strftime("%Y%m%d%H", time.gmtime(hour_number * 3600))


def usage_key(sitekey: str, event: str, now: float) -> str:
    """The usage counter for ``event`` on ``sitekey`` for the UTC hour of ``now``."""
    return f"{USAGE_PREFIX}{_utc_hour(int(now // 3600))}:{sitekey}:{event}"


@dataclass(frozen=True, slots=True)
class UsageKey:
    hour: datetime
    sitekey: str
    event: str

    def to_wire(self) -> str:
        return usage_key(self.sitekey, self.event, self.hour.timestamp())

    @classmethod
    def from_wire(cls, key: str) -> UsageKey | None:
        """The key's parts, or None for a key that is not a well-formed usage counter."""
        if not key.startswith(USAGE_PREFIX):
            return None
        hour_text, _, rest = key[len(USAGE_PREFIX) :].partition(":")
        sitekey, _, event = rest.rpartition(":")
        if len(hour_text) != 10 or not hour_text.isdigit() or not sitekey or not event:
            return None
        try:
            hour = datetime.strptime(hour_text, "%Y%m%d%H").replace(tzinfo=UTC)
        except ValueError:
            return None
        return cls(hour=hour, sitekey=sitekey, event=event)


# ---------------------------------------------------------------------------- richer counters
#
# Beside the three totals above, the edge counts (docs/usage-and-billing.md, "What is counted"):
#   c.<type>      challenges issued by task type ("none": proof-of-work only, invisible)
#   p.<band>      challenges issued by the policy's band (0 = least friction)
#   s.<outcome>   solves by outcome: s.token, s.step_up
#   f.<code>      failed solves by reason (expired, invalid-pow, wrong-answer, denied, ...)
#   v.<dialect>   tokens verified, by the dialect that verified them (native, recaptcha, ...)
#   x.<reason>    verifications refused after the site was known (expired, duplicate)
#   r.<low>       risk of issued tokens, fixed buckets of 10 (r.0 ... r.90; r.90 takes 100)
#   t.<upper>     seconds from challenge to token, fixed buckets (TIME_BUCKETS; t.inf above)
#   h.<hostname>  tokens by hostname, a.<action> by action: at most TOP_NAMES distinct names
#                 per site and hour in each process, the rest under "~other"
# Fixed buckets sum across hours, sites and ranges, so any range's percentiles can be read.

TIME_BUCKETS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TIME_LABELS: tuple[str, ...] = (*(f"t.{int(b)}" for b in TIME_BUCKETS), "t.inf")
RISK_LABELS: tuple[str, ...] = tuple(f"r.{low}" for low in range(0, 100, 10))
TOP_NAMES = 20
OTHER = "~other"
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")
_MAX_NAME = 64


def risk_label(risk: int) -> str:
    return RISK_LABELS[min(9, max(0, risk // 10))]


def time_label(seconds: float) -> str:
    for index, bound in enumerate(TIME_BUCKETS):
        if seconds < bound:
            return TIME_LABELS[index]
    return TIME_LABELS[-1]


class TopNames:
    """The names (hostnames, actions) a process counts separately per site and hour: the first
    ``TOP_NAMES``; later ones count as ``~other``. A name that is empty, too long or has a
    character outside ``[A-Za-z0-9._/-]`` is ``~other`` too (a usage key's parts are split on
    ``:``). Memory: at most ``max_sites`` sites, forgotten every hour."""

    def __init__(self, limit: int = TOP_NAMES, max_sites: int = 50_000) -> None:
        self._limit = limit
        self._max_sites = max_sites
        self._hour = -1
        self._seen: dict[str, set[str]] = {}

    def pick(self, sitekey: str, name: str | None, now: float) -> str:
        hour = int(now // 3600)
        if hour != self._hour or len(self._seen) > self._max_sites:
            self._hour = hour
            self._seen = {}
        if not name or len(name) > _MAX_NAME or not _NAME_OK.issuperset(name):
            return OTHER
        seen = self._seen.get(sitekey)
        if seen is None:
            seen = self._seen[sitekey] = set()
        if name in seen:
            return name
        if len(seen) >= self._limit:
            return OTHER
        seen.add(name)
        return name
