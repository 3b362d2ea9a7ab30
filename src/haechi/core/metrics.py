"""Prometheus metrics. One registry per app so tests and several apps in a process don't clash."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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
