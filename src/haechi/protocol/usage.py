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
