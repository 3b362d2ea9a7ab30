"""Every Haechi metric the Grafana dashboard and the alert rules read is one the application
exports (a renamed metric would leave a panel empty and an alert silent)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from haechi.core.metrics import Metrics
from haechi.core.store.counters import CounterBuffer
from haechi.platform.gauges import PlatformGauges
from haechi.risk.attack import AttackMonitor
from haechi.runtime import export_edge_state

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# A metric name, not a label name (haechi_volume="blobs" is a label of node_exporter's series).
NAME = re.compile(r"\bhaechi_[a-z0-9_]+\b(?!\s*[=!~])")
SUFFIXES = ("_bucket", "_count", "_sum")


def exported() -> set[str]:
    metrics = Metrics()
    export_edge_state(metrics, CounterBuffer(), AttackMonitor())
    PlatformGauges().export(metrics)
    text = generate_latest(metrics.registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def used_in_dashboard() -> set[str]:
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "haechi.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    return {base(n) for e in exprs for n in NAME.findall(e)}


def used_in_alerts() -> set[str]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    exprs = [r["expr"] for g in groups for r in g["rules"]]
    return {base(n) for e in exprs for n in NAME.findall(e)}


def test_the_dashboard_reads_only_exported_metrics() -> None:
    missing = used_in_dashboard() - exported()
    assert not missing, f"the dashboard reads metrics nobody exports: {sorted(missing)}"


def test_the_alerts_read_only_exported_metrics() -> None:
    missing = used_in_alerts() - exported()
    assert not missing, f"alert rules read metrics nobody exports: {sorted(missing)}"


def test_the_new_state_is_on_the_dashboard_and_alerted_on() -> None:
    board, alerts = used_in_dashboard(), used_in_alerts()
    for name in (
        "haechi_risk_score",
        "haechi_attack_level",
        "haechi_usage_counters_flushed_timestamp_seconds",
        "haechi_usage_rollup_applied_timestamp_seconds",
        "haechi_email_outbox_messages",
        "haechi_billing_charges_failed_24h",
    ):
        assert name in board, name
    assert {"haechi_attack_level", "haechi_usage_rollup_applied_timestamp_seconds"} <= alerts
