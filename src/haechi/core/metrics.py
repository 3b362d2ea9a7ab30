"""Prometheus metrics. One registry per app so tests and several apps in a process don't clash.

The per-request metrics (request counts, latency, the protocol's counters) are plain integers
in dicts, counted on the event loop, and turned into Prometheus families only when ``/metrics``
is scraped (``_Collector``). ``prometheus_client``'s own ``Counter`` and ``Histogram`` take a
lock and walk the buckets in Python on every call: four to six of those a request cost about
as much as a tenth of ``/siteverify`` (bench/RESULTS.md). The exposition is the same: the same
names, labels, buckets and types (without the optional ``_created`` samples).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Risk scores are integers 0-100: one bucket per ten points.
_RISK_BUCKETS = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)


class Counts:
    """A counter family: counts by label values (a finite set: routes, sites, reasons)."""

    __slots__ = ("help", "labels", "name", "values")

    def __init__(self, name: str, help_text: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.help = help_text
        self.labels = labels
        self.values: dict[tuple[str, ...], int] = {}

    def inc(self, *label_values: str) -> None:
        values = self.values
        values[label_values] = values.get(label_values, 0) + 1

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.help, labels=self.labels)
        for label_values, count in self.values.items():
            family.add_metric(label_values, count)
        return family


class Latency:
    """A histogram family by one label (the route, for latency): per label value, a count for
    each bucket and the sum."""

    __slots__ = ("bounds", "help", "label", "name", "routes")

    def __init__(
        self, name: str, help_text: str, bounds: tuple[float, ...], label: str = "route"
    ) -> None:
        self.name = name
        self.help = help_text
        self.label = label
        self.bounds = bounds
        # route -> [count in each bucket ..., count above the last bound, sum of seconds]
        self.routes: dict[str, list[float]] = {}

    def observe(self, route: str, seconds: float) -> None:
        row = self.routes.get(route)
        if row is None:
            row = self.routes[route] = [0] * (len(self.bounds) + 2)
        row[bisect_left(self.bounds, seconds)] += 1
        row[-1] += seconds

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.help, labels=(self.label,))
        for route, row in self.routes.items():
            buckets, running = [], 0.0
            for bound, count in zip((*self.bounds, float("inf")), row[:-1], strict=True):
                running += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            family.add_metric([route], buckets, sum_value=row[-1])
        return family


# A gauge read when /metrics is scraped: label values -> value, from state the process keeps
# anyway (the attack levels, the last flush), never from I/O at scrape time.
GaugeReader = Callable[[], Iterable[tuple[tuple[str, ...], float]]]


class Gauge:
    __slots__ = ("help", "labels", "name", "read")

    def __init__(
        self, name: str, help_text: str, labels: tuple[str, ...], read: GaugeReader
    ) -> None:
        self.name = name
        self.help = help_text
        self.labels = labels
        self.read = read

    def family(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.help, labels=self.labels)
        for label_values, value in self.read():
            family.add_metric(list(label_values), value)
        return family


class _Collector:
    def __init__(self, families: list[Counts | Latency | Gauge]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.family()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counts(
            "haechi_http_requests_total",
            "HTTP requests by route template, method and status",
            ("route", "method", "status"),
        )
        self.latency = Latency(
            "haechi_http_request_duration_seconds",
            "HTTP request latency by route template",
            _LATENCY_BUCKETS,
        )
        self.challenges_issued = Counts(
            "haechi_challenges_issued_total",
            "Challenges issued, by site and the visual type included (none for PoW only)",
            ("site", "type"),
        )
        self.challenges_solved = Counts(
            "haechi_challenges_solved_total",
            "Challenges solved, by site and outcome (token or step_up)",
            ("site", "outcome"),
        )
        self.challenges_failed = Counts(
            "haechi_challenges_failed_total",
            "Challenge solutions rejected, by site and reason",
            ("site", "reason"),
        )
        self.tokens_verified = Counts(
            "haechi_tokens_verified_total",
            "Tokens checked at siteverify, by site, dialect and result",
            ("site", "dialect", "result"),
        )
        self.risk = Latency(
            "haechi_risk_score",
            "Risk scores (0-100) of the visitors asking for a challenge, by site",
            _RISK_BUCKETS,
            label="site",
        )
        self._families: list[Counts | Latency | Gauge] = [
            self.requests,
            self.latency,
            self.challenges_issued,
            self.challenges_solved,
            self.challenges_failed,
            self.tokens_verified,
            self.risk,
        ]
        self.registry.register(_Collector(self._families))
        self._status_text: dict[int, str] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency. Unknown methods count as "other"."""
        text = self._status_text.get(status)
        if text is None:
            text = self._status_text[status] = str(status)
        self.requests.inc(route, method if method in _METHODS else "other", text)
        self.latency.observe(route, seconds)

    def count_verified(self, site: str, dialect: str, verdict: Any) -> None:
        """Count one siteverify answer by site, dialect and result (success or failure code)."""
        result = "success" if verdict.success else str(verdict.failure)
        self.tokens_verified.inc(site, dialect, result)

    def gauge(self, name: str, help_text: str, labels: tuple[str, ...], read: GaugeReader) -> None:
        """Export a gauge read at scrape time (see ``GaugeReader``); a name registers once."""
        if any(family.name == name for family in self._families):
            return
        self._families.append(Gauge(name, help_text, labels, read))

    def observe_risk(self, site: str, risk: int) -> None:
        """One visitor's risk score at /v1/challenge (the ``haechi_risk_score`` histogram)."""
        self.risk.observe(site, float(risk))

    def count(self, counter: Counts, first: str, second: str) -> None:
        """``counter``'s count for the two label values (the ``challenges_*`` families)."""
        counter.inc(first, second)
