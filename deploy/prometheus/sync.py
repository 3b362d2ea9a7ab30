"""Write the Kubernetes PrometheusRule from deploy/prometheus/alerts.yml (the one source of the
alert rules), or check that it is current.

    python deploy/prometheus/sync.py           # write kustomize/base/monitoring/prometheusrule.yaml
    python deploy/prometheus/sync.py --check   # exit 1 when it differs (CI)
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "alerts.yml"
TARGET = HERE.parent / "kustomize" / "base" / "monitoring" / "prometheusrule.yaml"
HEADER = (
    "# Generated from deploy/prometheus/alerts.yml by deploy/prometheus/sync.py: edit that file.\n"
)


def render() -> str:
    groups = yaml.safe_load(SOURCE.read_text())["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "haechi", "labels": {"release": "prometheus"}},
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=100, allow_unicode=True)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text() != text:
            print(f"{TARGET} is stale: run python deploy/prometheus/sync.py", file=sys.stderr)
            return 1
        print("prometheusrule.yaml is current")
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
