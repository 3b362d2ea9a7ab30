"""Validate everything under deploy/ (CI: `make deploy-check`).

    python deploy/validate.py [--skip-checkov]

1. deploy/compose.yml against the Compose specification's JSON schema (vendored in
   deploy/schemas/compose-spec.json).
2. Every Kustomize overlay renders (`kubectl kustomize`), and each object validates:
   built-in kinds with `kubernetes-validate --strict` (the schemas of a current Kubernetes
   release), the custom resources (ServiceMonitor, PrometheusRule, ScaledObject,
   ExternalSecret, Argo CD Application) against their CRDs' schemas (deploy/validate/crds.mjs,
   versions pinned in deploy/validate/package.json).
3. The PrometheusRule is current with deploy/prometheus/alerts.yml; `promtool check rules`,
   `promtool test rules` (a unit test per alert), `promtool check config` of the Prometheus
   configurations.
4. `checkov` on the rendered manifests, the compose file and the Containerfile: no failed check,
   except the ones waived in deploy/checkov.yaml, each with its reason.

Needs: kubectl, promtool, node (+ `npm ci` in deploy/validate), and a Python with jsonschema,
PyYAML, kubernetes-validate and checkov (`make deploy-tools` builds one in build/deploy-tools).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jsonschema
import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
OVERLAYS = ["dev", "prod"]
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("argoproj.io/v1alpha1", "Application"),
}
failures: list[str] = []


def step(name: str) -> None:
    print(f"\n-- {name}", flush=True)


def run(command: list[str], *, stdin: str | None = None, quiet: bool = False) -> str:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        failures.append(f"{' '.join(command[:3])}: exit {done.returncode}")
        print(done.stdout + done.stderr)
    elif not quiet:
        print(done.stdout.rstrip() or "ok")
    return done.stdout


def tool(name: str) -> str:
    found = shutil.which(
        name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    if found is None:
        raise SystemExit(f"{name} is not installed (see this file's docstring)")
    return found


def check_compose() -> None:
    step("compose.yml against the Compose specification schema")
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    for error in errors:
        failures.append(f"compose.yml {'/'.join(map(str, error.absolute_path))}: {error.message}")
        print(f"FAIL {'/'.join(map(str, error.absolute_path))}: {error.message}")
    # Every file the compose file mounts exists.
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith(".") and not (DEPLOY / source).exists():
                failures.append(f"compose.yml {name}: mounts {source}, which does not exist")
    if not errors:
        print(f"ok ({len(compose['services'])} services)")


def render(overlay: str) -> list[dict[str, Any]]:
    out = run(
        [tool("kubectl"), "kustomize", str(DEPLOY / "kustomize" / "overlays" / overlay)], quiet=True
    )
    return [d for d in yaml.safe_load_all(out) if d]


def check_kubernetes(tmp: Path) -> list[Path]:
    rendered: list[Path] = []
    argo = [
        d
        for f in sorted((DEPLOY / "argocd").glob("*.yaml"))
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]
    for overlay in OVERLAYS:
        step(f"kustomize overlay {overlay}: render and validate")
        objects = render(overlay)
        if not objects:
            failures.append(f"overlay {overlay} rendered nothing")
            continue
        kinds = sorted({o["kind"] for o in objects})
        print(f"{len(objects)} objects: {', '.join(kinds)}")
        builtin = [o for o in objects if (o["apiVersion"], o["kind"]) not in CUSTOM_KINDS]
        custom = [o for o in objects if (o["apiVersion"], o["kind"]) in CUSTOM_KINDS]
        path = tmp / f"{overlay}.yaml"
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        rendered.append(path)
        core = tmp / f"{overlay}-core.yaml"
        core.write_text(yaml.safe_dump_all(builtin, sort_keys=False))
        run([tool("kubernetes-validate"), "--strict", "--quiet", str(core)])
        run([tool("node"), str(DEPLOY / "validate" / "crds.mjs")], stdin=json.dumps(custom))
    step("Argo CD Applications against the Application CRD")
    run([tool("node"), str(DEPLOY / "validate" / "crds.mjs")], stdin=json.dumps(argo))
    for app in argo:
        path = ROOT / app["spec"]["source"]["path"]
        if not (path / "kustomization.yaml").is_file():
            failures.append(
                f"Application {app['metadata']['name']} points at {path}, not an overlay"
            )
    return rendered


def check_prometheus(tmp: Path) -> None:
    step("alert rules: PrometheusRule current, promtool check + unit tests")
    run([sys.executable, str(DEPLOY / "prometheus" / "sync.py"), "--check"])
    promtool = tool("promtool")
    run([promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")])
    run([promtool, "test", "rules", str(DEPLOY / "prometheus" / "alerts_test.yml")])
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts_test.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    if alerts - tested:
        failures.append(f"alerts without a unit test that fires them: {sorted(alerts - tested)}")
    else:
        print(f"each of the {len(alerts)} alerts has a firing unit test")
    step("Prometheus configurations")
    for config in [DEPLOY / "compose" / "prometheus.yml", DEPLOY / "cluster" / "prometheus.yml"]:
        if not config.is_file():
            continue
        text = config.read_text().replace(
            "/etc/prometheus/alerts.yml", str(DEPLOY / "prometheus" / "alerts.yml")
        )
        # bench/cluster/run.py fills these in with the ports it picks.
        for placeholder, value in {
            "EDGE_TARGETS": '["127.0.0.1:8080", "127.0.0.1:8081"]',
            "PLATFORM_TARGET": "127.0.0.1:8082",
            "REDIS_EXPORTER": "127.0.0.1:9121",
            "PG_EXPORTER": "127.0.0.1:9187",
        }.items():
            text = text.replace(placeholder, value)
        copy = tmp / f"{config.parent.name}-prometheus.yml"
        copy.write_text(text)
        run([promtool, "check", "config", "--syntax-only", str(copy)])


def check_checkov(rendered: list[Path]) -> None:
    step("checkov: manifests, compose file, Containerfile")
    checkov = tool("checkov")
    config = DEPLOY / "checkov.yaml"
    targets = [
        ["--framework", "kubernetes", *[a for p in rendered for a in ("--file", str(p))]],
        ["--framework", "dockerfile", "--file", str(DEPLOY / "Containerfile")],
    ]
    for target in targets:
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603
            [
                checkov,
                "--config-file",
                str(config),
                "--skip-download",
                "--compact",
                "--quiet",
                "--output",
                "cli",
                *target,
            ],
            capture_output=True,
            text=True,
        )
        print(done.stdout.strip() or "ok")
        if done.returncode != 0:
            failures.append(f"checkov {target[1]}: findings (exit {done.returncode})")
            print(done.stderr[-2000:])
        print(f"({time.monotonic() - started:.0f} s)")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="haechi-deploy-") as scratch:
        tmp = Path(scratch)
        check_compose()
        rendered = check_kubernetes(tmp)
        check_prometheus(tmp)
        if "--skip-checkov" not in argv:
            check_checkov(rendered)
    if failures:
        print("\ndeploy checks FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("\ndeploy checks: all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
