"""Prometheus metrics. One registry per app so tests and several apps in a process don't clash."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "haechi_http_requests_total",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "haechi_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.challenges_issued = Counter(
            "haechi_challenges_issued_total",
            "Challenges issued, by site and the visual type included (none for PoW only)",
            ["site", "type"],
            registry=self.registry,
        )
        self.challenges_solved = Counter(
            "haechi_challenges_solved_total",
            "Challenges solved, by site and outcome (token or step_up)",
            ["site", "outcome"],
            registry=self.registry,
        )
        self.challenges_failed = Counter(
            "haechi_challenges_failed_total",
            "Challenge solutions rejected, by site and reason",
            ["site", "reason"],
            registry=self.registry,
        )
        self.tokens_verified = Counter(
            "haechi_tokens_verified_total",
            "Tokens checked at siteverify, by site, dialect and result",
            ["site", "dialect", "result"],
            registry=self.registry,
        )
        # (route, method, status) -> (counter child, histogram child): ``labels()`` hashes and
        # locks on every call; the hot path looks its children up once.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._verified_children: dict[tuple[str, str, str], Any] = {}
        # (counter, label values) -> child, for the protocol's per-site counters.
        self._children: dict[tuple[Any, str, str], Any] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency. Unknown methods count as "other"."""
        label = method if method in _METHODS else "other"
        key = (route, label, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, label, str(status)),
                self.latency.labels(route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_verified(self, site: str, dialect: str, verdict: Any) -> None:
        """Count one siteverify answer by site, dialect and result (success or failure code)."""
        result = "success" if verdict.success else str(verdict.failure)
        key = (site, dialect, result)
        child = self._verified_children.get(key)
        if child is None:
            child = self._verified_children[key] = self.tokens_verified.labels(*key)
        child.inc()

    def count(self, counter: Counter, first: str, second: str) -> None:
        """``counter.labels(first, second).inc()`` for the two-label protocol counters
        (``challenges_*``), with the child looked up once per label pair."""
        key = (counter, first, second)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(first, second)
        child.inc()
