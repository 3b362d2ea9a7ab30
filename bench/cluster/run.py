# ruff: noqa: S603, S607, ASYNC110
"""Haechi as a cluster on one machine, with the entrypoints and settings the manifests use.

    python bench/cluster/run.py --smoke          # CI: start, flows, kill an edge
    python bench/cluster/run.py                  # make cluster: 1 vs 2 edges, then the faults
    python bench/cluster/run.py --soak 30        # make cluster-soak: 30 minutes at 70 % of capacity

What runs (each on a free port, in a scratch folder, all stopped at the end):
private PostgreSQL and Redis instances (never the shared ones), moto's S3 server, `haechi
migrate`, two `haechi serve --role edge`, one `haechi serve --role platform`, one `haechi
worker`, HAProxy in front of the edges, redis_exporter and postgres_exporter, and Prometheus
scraping all of them every 2 s and evaluating deploy/prometheus/alerts.yml.

Load: "visitors" (asyncio, in this process) run challenge -> solve -> siteverify through the
balancer; every fourth token is presented again, which must fail: a second success is counted
as a double accept. wrk measures throughput of /v1/challenge. Needs: PostgreSQL server binaries,
redis-server, haproxy, prometheus, prometheus-redis-exporter, prometheus-postgres-exporter
(Debian packages), wrk, and the venv's moto (dev extra).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ORIGIN = "https://cluster.example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_http(url: str, timeout: float = 60.0, ok: tuple[int, ...] = (200,)) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=2.0)
            if last.status_code in ok:
                return
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer: {last}")


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"port {port} did not open")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Proc:
    name: str
    command: list[str]
    env: dict[str, str] | None = None
    user: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self, logs: Path) -> Proc:
        self.log_path = logs / f"{self.name}.log"
        command = self.command
        if self.user and os.geteuid() == 0:
            command = ["runuser", "-u", self.user, "--", *command]
        handle = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            command, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def which(*names: str) -> str:
    for name in names:
        for candidate in [name, *glob.glob(name)]:
            found = shutil.which(candidate) or (
                candidate if os.access(candidate, os.X_OK) else None
            )
            if found:
                return found
    raise SystemExit(f"not installed: {' or '.join(names)} (see bench/cluster/run.py's docstring)")


class Cluster:
    def __init__(self, work: Path, *, edges: int = 2) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True)
        os.chmod(self.logs, 0o1777)  # noqa: S103  # PostgreSQL's server log, written as user postgres
        self.procs: dict[str, Proc] = {}
        self.ports = {
            name: free_port()
            for name in (
                "pg",
                "redis",
                "s3",
                "lb",
                "platform",
                "prometheus",
                "redis_exporter",
                "pg_exporter",
            )
        }
        self.edge_ports = [free_port() for _ in range(edges)]
        self.haechi = str(BIN / "haechi")
        self.pg_bin = Path(which("/usr/lib/postgresql/*/bin/pg_ctl")).parent
        self.sitekey = ""
        self.secret = ""

    # ----------------------------------------------------------------------- dependencies
    def start_postgres(self) -> None:
        data = self.work / "pg"
        data.mkdir()
        sockets = self.work / "pgsock"
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(data, "postgres")
            shutil.chown(sockets, "postgres")
        self.run_as_postgres(
            [
                str(self.pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "haechi",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        )
        self.pg_ctl("start")
        subprocess.run(
            [
                str(self.pg_bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.ports["pg"]),
                "-U",
                "haechi",
                "haechi",
            ],
            check=True,
        )

    def run_as_postgres(self, command: list[str]) -> None:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def pg_ctl(self, action: str) -> None:
        options = (
            f"-p {self.ports['pg']} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.work / 'pgsock'} -c max_connections=200"
        )
        command = [
            str(self.pg_bin / "pg_ctl"),
            "-D",
            str(self.work / "pg"),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.logs / "postgres.log"),
            "-m",
            "fast",
            action,
        ]
        if action in ("start", "restart"):
            command += ["-o", options]
        self.run_as_postgres(command)

    def start_redis(self) -> None:
        (self.work / "redis").mkdir(exist_ok=True)
        self.procs["redis"] = Proc(
            "redis",
            [
                which("redis-server"),
                "--port",
                str(self.ports["redis"]),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.work / "redis"),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxmemory-policy",
                "noeviction",
            ],
        ).start(self.logs)
        wait_port(self.ports["redis"])

    def start_s3(self) -> None:
        self.procs["s3"] = Proc(
            "s3", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.ports["s3"])]
        ).start(self.logs)
        wait_http(f"http://127.0.0.1:{self.ports['s3']}/moto-api/", ok=(200,))
        import boto3

        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.ports['s3']}",
            region_name="us-east-1",
            aws_access_key_id="haechi",
            aws_secret_access_key="haechi-cluster",
        ).create_bucket(Bucket="haechi")

    # ----------------------------------------------------------------------- haechi
    def env(self) -> dict[str, str]:
        keys = (
            subprocess.run(
                [self.haechi, "keys", "generate"], check=True, capture_output=True, text=True
            ).stdout
            if not hasattr(self, "_keys")
            else self._keys
        )
        self._keys = keys
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAECHI_")}
        for line in keys.splitlines():
            name, value = line.split("=", 1)
            env[name] = value.strip("'")
        redis = f"redis://127.0.0.1:{self.ports['redis']}/0"
        env.update(
            {
                "HAECHI_ENV": "production",
                "HAECHI_DATA_DIR": str(self.work / "data"),
                "HAECHI_DB__URL": f"postgresql+asyncpg://haechi@127.0.0.1:{self.ports['pg']}/haechi",
                "HAECHI_DB__AUTO_MIGRATE": "false",
                "HAECHI_STORE__URL": redis,
                "HAECHI_JOBS__BACKEND": "redis",
                "HAECHI_BLOBS__BACKEND": "s3",
                "HAECHI_BLOBS__S3__ENDPOINT_URL": f"http://127.0.0.1:{self.ports['s3']}",
                "HAECHI_BLOBS__S3__BUCKET": "haechi",
                "HAECHI_BLOBS__S3__REGION": "us-east-1",
                "HAECHI_BLOBS__S3__ADDRESSING_STYLE": "path",
                "HAECHI_BLOBS__S3__ACCESS_KEY_ID": "haechi",
                "HAECHI_BLOBS__S3__SECRET_ACCESS_KEY": "haechi-cluster",
                # HAProxy on loopback: its X-Forwarded-For is believed; each visitor has its own
                # address (X-Forwarded-For from the load generator, passed on by HAProxy).
                "HAECHI_TRUSTED_PROXIES": '["127.0.0.1/32"]',
                "HAECHI_POLICY__ALLOW_TEST_LEVEL": "true",
                # The visitors come from a handful of addresses at hundreds of requests a second.
                "HAECHI_RATE_LIMIT__PER_IP": "1000000",
                "HAECHI_RATE_LIMIT__SITEVERIFY_PER_IP": "1000000",
                "HAECHI_LOG__ACCESS": "false",
                # Pool builds would take the two cores from the measurement (the worker still runs
                # its scheduled jobs: attack levels, retention).
                "HAECHI_POOLS__STARTER": "false",
            }
        )
        return env

    def start_haechi(self) -> None:
        env = self.env()
        (self.work / "data").mkdir(exist_ok=True)
        subprocess.run([self.haechi, "migrate"], env=env, check=True, capture_output=True)
        site = json.loads(
            subprocess.run(
                [
                    self.haechi,
                    "sites",
                    "create",
                    "--name",
                    "cluster",
                    "--hostname",
                    "cluster.example.com",
                    "--security-level",
                    "test",
                    "--json",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        self.sitekey, self.secret = site["sitekey"], site["secret"]
        for index, port in enumerate(self.edge_ports, 1):
            self.start_edge(index, port)
        self.procs["platform"] = Proc(
            "platform",
            [
                self.haechi,
                "serve",
                "--role",
                "platform",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports["platform"]),
            ],
            env,
        ).start(self.logs)
        self.procs["worker"] = Proc("worker", [self.haechi, "worker"], env).start(self.logs)
        for port in [*self.edge_ports, self.ports["platform"]]:
            wait_http(f"http://127.0.0.1:{port}/healthz")

    def start_edge(self, index: int, port: int) -> None:
        self.procs[f"edge{index}"] = Proc(
            f"edge{index}",
            [self.haechi, "serve", "--role", "edge", "--host", "127.0.0.1", "--port", str(port)],
            self.env(),
        ).start(self.logs)

    # ----------------------------------------------------------------------- balancer, monitoring
    def start_haproxy(self) -> None:
        servers = "\n".join(
            f"  server edge{i} 127.0.0.1:{port} check inter 1s fall 2 rise 2"
            for i, port in enumerate(self.edge_ports, 1)
        )
        config = self.work / "haproxy.cfg"
        config.write_text(f"""global
  maxconn 4000
  stats socket {self.work}/haproxy.sock level admin
defaults
  mode http
  option forwardfor
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
  retry-on conn-failure empty-response response-timeout
frontend edge
  bind 127.0.0.1:{self.ports["lb"]}
  default_backend edges
backend edges
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
{servers}
""")
        self.procs["haproxy"] = Proc(
            "haproxy", [which("haproxy", "/usr/sbin/haproxy"), "-db", "-f", str(config)]
        ).start(self.logs)
        wait_http(f"http://127.0.0.1:{self.ports['lb']}/healthz")

    def haproxy(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.work / "haproxy.sock"))
            s.sendall(command.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()

    def start_monitoring(self) -> None:
        self.procs["redis_exporter"] = Proc(
            "redis_exporter",
            [
                which("prometheus-redis-exporter", "/usr/bin/prometheus-redis-exporter"),
                f"--redis.addr=redis://127.0.0.1:{self.ports['redis']}",
                f"--web.listen-address=127.0.0.1:{self.ports['redis_exporter']}",
            ],
        ).start(self.logs)
        pg_env = dict(
            os.environ,
            DATA_SOURCE_NAME=(
                f"postgresql://haechi@127.0.0.1:{self.ports['pg']}/haechi?sslmode=disable"
            ),
        )
        self.procs["pg_exporter"] = Proc(
            "pg_exporter",
            [
                which("prometheus-postgres-exporter", "/usr/bin/prometheus-postgres-exporter"),
                f"--web.listen-address=127.0.0.1:{self.ports['pg_exporter']}",
            ],
            pg_env,
        ).start(self.logs)
        template = (HERE.parent.parent / "deploy" / "cluster" / "prometheus.yml").read_text()
        config = self.work / "prometheus.yml"
        config.write_text(
            template.replace("/etc/prometheus/alerts.yml", str(ALERTS))
            .replace("EDGE_TARGETS", json.dumps([f"127.0.0.1:{p}" for p in self.edge_ports]))
            .replace("PLATFORM_TARGET", f"127.0.0.1:{self.ports['platform']}")
            .replace("REDIS_EXPORTER", f"127.0.0.1:{self.ports['redis_exporter']}")
            .replace("PG_EXPORTER", f"127.0.0.1:{self.ports['pg_exporter']}")
        )
        self.procs["prometheus"] = Proc(
            "prometheus",
            [
                which("prometheus", "/usr/bin/prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}",
            ],
        ).start(self.logs)
        wait_http(f"http://127.0.0.1:{self.ports['prometheus']}/-/ready")

    def alerts(self) -> dict[str, str]:
        """alertname -> state (pending or firing) now."""
        body = httpx.get(f"http://127.0.0.1:{self.ports['prometheus']}/api/v1/alerts").json()
        states: dict[str, str] = {}
        for alert in body["data"]["alerts"]:
            name = alert["labels"]["alertname"]
            if states.get(name) != "firing":
                states[name] = alert["state"]
        return states

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = httpx.get(
            f"http://127.0.0.1:{self.ports['prometheus']}/api/v1/query", params={"query": expr}
        ).json()
        return list(body["data"]["result"])

    def start(self) -> None:
        started = time.monotonic()
        self.start_postgres()
        self.start_redis()
        self.start_s3()
        self.start_haechi()
        self.start_haproxy()
        self.start_monitoring()
        log(
            f"cluster up in {time.monotonic() - started:.1f} s: LB :{self.ports['lb']}, edges "
            f"{self.edge_ports}, platform :{self.ports['platform']}, Prometheus "
            f":{self.ports['prometheus']}"
        )

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        with contextlib.suppress(Exception):
            self.pg_ctl("stop")


# --------------------------------------------------------------------------- load
@dataclass
class Tally:
    ok: int = 0
    replayed: int = 0
    double_accept: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    per_second: list[tuple[float, int, int]] = field(default_factory=list)  # (t, ok, errors)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


async def visitor(base: str, cluster: Cluster, tally: Tally, stop: asyncio.Event, n: int) -> None:
    from haechi.client import SolveError, asolve

    # Each visitor is its own address behind the balancer.
    headers = {"x-forwarded-for": f"198.51.{n // 250}.{n % 250 + 1}"}
    async with httpx.AsyncClient(base_url=base, timeout=5.0, headers=headers) as client:
        while not stop.is_set():
            try:
                token = await asolve(
                    url=base, sitekey=cluster.sitekey, origin=ORIGIN, client=client
                )
                form = {"secret": cluster.secret, "response": token}
                first = (await client.post("/siteverify", data=form)).json()
                if not first.get("success"):
                    tally.error(f"siteverify:{','.join(first.get('error-codes') or ['?'])}")
                    continue
                # Every fourth token is presented again and must be refused. (Every token would
                # make half of all siteverify calls failures: HaechiSiteverifyFailuresHigh.)
                if tally.ok % 4 == 0:
                    again = (await client.post("/siteverify", data=form)).json()
                    tally.replayed += 1
                    if again.get("success"):
                        tally.double_accept += 1
                tally.ok += 1
            except SolveError as error:
                tally.error(f"solve:{error.code}")
                await asyncio.sleep(0.05)
            except httpx.HTTPStatusError as error:
                tally.error(f"http:{error.response.status_code}")
                await asyncio.sleep(0.05)
            except (httpx.HTTPError, ValueError) as error:
                tally.error(f"transport:{type(error).__name__}")
                await asyncio.sleep(0.05)


async def run_load(
    cluster: Cluster, seconds: float, visitors: int, tally: Tally, during: Any = None
) -> None:
    base = f"http://127.0.0.1:{cluster.ports['lb']}"
    stop = asyncio.Event()
    tasks = [asyncio.create_task(visitor(base, cluster, tally, stop, n)) for n in range(visitors)]
    started = time.monotonic()

    async def sampler() -> None:
        last_ok, last_err = 0, 0
        while not stop.is_set():
            await asyncio.sleep(1.0)
            tally.per_second.append(
                (time.monotonic() - started, tally.ok - last_ok, tally.error_count - last_err)
            )
            last_ok, last_err = tally.ok, tally.error_count

    sample = asyncio.create_task(sampler())
    if during is not None:
        await during(started)
    remaining = seconds - (time.monotonic() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)
    stop.set()
    await asyncio.gather(*tasks, sample, return_exceptions=True)


def wrk_challenge(cluster: Cluster, seconds: float, connections: int = 64) -> float:
    env = dict(os.environ, HB_SCENARIO="challenge", HB_SITEKEY=cluster.sitekey, HB_ORIGIN=ORIGIN)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "-s",
            str(ROOT / "bench" / "protocol" / "haechi.lua"),
            f"http://127.0.0.1:{cluster.ports['lb']}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("HBJSON "):
            result = json.loads(line.removeprefix("HBJSON "))
            return float(result["ok_challenge"]) * 1e6 / float(result["duration_us"])
    raise RuntimeError(f"wrk printed no result:\n{out}")


# --------------------------------------------------------------------------- scenarios
def measure_edges(cluster: Cluster, seconds: float) -> list[str]:
    """/v1/challenge through the balancer with one edge enabled, then two; CPU per process."""
    lines = []
    watched = {
        name: proc
        for name, proc in cluster.procs.items()
        if name.startswith("edge") or name in ("haproxy", "redis")
    }
    for enabled in (1, 2):
        for index in range(2, len(cluster.edge_ports) + 1):
            action = "enable" if index <= enabled else "disable"
            cluster.haproxy(f"{action} server edges/edge{index}")
        time.sleep(1.5)
        wrk_challenge(cluster, 2)  # warm-up
        before = {name: cpu_seconds(p.pid) for name, p in watched.items()}
        busy_before, _ = machine_busy()
        wall = time.monotonic()
        rate = wrk_challenge(cluster, seconds)
        wall = time.monotonic() - wall
        used = {name: (cpu_seconds(p.pid) - before[name]) / wall for name, p in watched.items()}
        busy = (machine_busy()[0] - busy_before) / wall
        edge_cores = sum(v for k, v in used.items() if k.startswith("edge"))
        cores = ", ".join(f"{name} {share:.2f}" for name, share in sorted(used.items()))
        per_core = rate / edge_cores if edge_cores else 0.0
        lines.append(
            f"| {enabled} | {rate:,.0f} | {per_core:,.0f} | {cores} | {busy:.2f} of "
            f"{os.cpu_count()} |"
        )
        log(
            f"{enabled} edge(s): {rate:,.0f} challenges/s ({per_core:,.0f} per edge core); "
            f"cores: {cores}; machine busy {busy:.2f}"
        )
    return lines


def fault_kill_edge(cluster: Cluster, visitors: int, down: float) -> dict[str, Any]:
    tally = Tally()
    seen: dict[str, str] = {}

    async def during(started: float) -> None:
        await asyncio.sleep(5)
        log("fault: SIGKILL edge1")
        cluster.procs["edge1"].stop(signal.SIGKILL)
        killed = time.monotonic()
        while time.monotonic() - killed < down:
            await asyncio.sleep(2)
            seen.update({k: v for k, v in cluster.alerts().items() if seen.get(k) != "firing"})
        log("fault over: edge1 restarted")
        cluster.start_edge(1, cluster.edge_ports[0])

    asyncio.run(run_load(cluster, down + 15, visitors, tally, during))
    wait_http(f"http://127.0.0.1:{cluster.edge_ports[0]}/healthz")
    return {"fault": "kill an edge (SIGKILL)", "tally": tally, "alerts": seen}


def fault_redis_restart(cluster: Cluster, visitors: int, down: float) -> dict[str, Any]:
    tally = Tally()
    seen: dict[str, str] = {}
    recovery: dict[str, float] = {}

    async def during(started: float) -> None:
        await asyncio.sleep(5)
        log(f"fault: Redis stopped for {down:g} s")
        cluster.procs["redis"].stop()
        stopped = time.monotonic()
        while time.monotonic() - stopped < down:
            await asyncio.sleep(2)
            seen.update({k: v for k, v in cluster.alerts().items() if seen.get(k) != "firing"})
        cluster.start_redis()
        back = time.monotonic()
        ok_before = tally.ok
        while tally.ok == ok_before and time.monotonic() - back < 30:
            await asyncio.sleep(0.1)
        recovery["seconds"] = time.monotonic() - back
        log(f"Redis back; first full flow after {recovery['seconds']:.1f} s")

    asyncio.run(run_load(cluster, down + 20, visitors, tally, during))
    return {
        "fault": f"stop Redis {down:g} s, then start it",
        "tally": tally,
        "alerts": seen,
        "recovery_s": recovery.get("seconds"),
    }


def fault_postgres_stop(cluster: Cluster, visitors: int, down: float) -> dict[str, Any]:
    tally = Tally()
    seen: dict[str, str] = {}
    platform: dict[str, Any] = {}

    async def during(started: float) -> None:
        await asyncio.sleep(5)
        log(f"fault: PostgreSQL stopped for {down:g} s")
        await asyncio.to_thread(cluster.pg_ctl, "stop")
        stopped = time.monotonic()
        async with httpx.AsyncClient(timeout=10) as client:
            while time.monotonic() - stopped < down:
                await asyncio.sleep(3)
                seen.update({k: v for k, v in cluster.alerts().items() if seen.get(k) != "firing"})
                if "status" not in platform:
                    answer = await client.post(
                        f"http://127.0.0.1:{cluster.ports['platform']}/api/v1/auth/login",
                        json={"email": "nobody@example.com", "password": "not-the-password-1"},
                    )
                    platform.update(
                        status=answer.status_code, content_type=answer.headers.get("content-type")
                    )
        await asyncio.to_thread(cluster.pg_ctl, "start")
        log("PostgreSQL back")

    asyncio.run(run_load(cluster, down + 20, visitors, tally, during))
    return {
        "fault": f"stop PostgreSQL {down:g} s",
        "tally": tally,
        "alerts": seen,
        "platform": platform,
    }


def describe(result: dict[str, Any]) -> str:
    tally: Tally = result["tally"]
    errors = ", ".join(f"{k} {v}" for k, v in sorted(tally.errors.items())) or "none"
    fired = ", ".join(f"{k} ({v})" for k, v in sorted(result["alerts"].items())) or "none"
    extra = ""
    if result.get("recovery_s") is not None:
        extra += f"; first full flow {result['recovery_s']:.1f} s after Redis returned"
    errored = [t for t, _, errors in tally.per_second if errors]
    if errored:
        # The load starts 5 s before each fault.
        extra += (
            f"; errors from {errored[0] - 5:.0f} s to {errored[-1] - 5:.0f} s after the fault began"
        )
    if result.get("platform"):
        extra += f"; platform answered {result['platform']}"
    return (
        f"| {result['fault']} | {tally.ok} | {tally.double_accept} of {tally.replayed} "
        f"| {errors} | {fired}"
        f"{extra} |"
    )


def soak(cluster: Cluster, minutes: float, visitors: int) -> list[str]:
    """/v1/challenge under wrk at about 70 % of the balancer's measured capacity (the connection
    count picked to match), plus `visitors` full flows, for `minutes`; RSS of each Haechi
    process every 30 s. Growth is counted from the first sample at or after five minutes."""
    capacity = wrk_challenge(cluster, 5, 64)
    target, connections, rate = 0.7 * capacity, 64, capacity
    for candidate in (32, 16, 8, 4, 2, 1):
        rate = wrk_challenge(cluster, 3, candidate)
        connections = candidate
        if rate <= target:
            break
    log(
        f"soak: capacity {capacity:,.0f}/s; {connections} connections give {rate:,.0f}/s "
        f"({rate / capacity:.0%}); {minutes:g} min"
    )
    env = dict(os.environ, HB_SCENARIO="challenge", HB_SITEKEY=cluster.sitekey, HB_ORIGIN=ORIGIN)
    load = subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(minutes * 60)}s",
            "-s",
            str(ROOT / "bench" / "protocol" / "haechi.lua"),
            f"http://127.0.0.1:{cluster.ports['lb']}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watched = {
        n: p
        for n, p in cluster.procs.items()
        if n.startswith("edge") or n in ("platform", "worker")
    }
    samples: list[tuple[float, dict[str, float]]] = []
    tally = Tally()

    async def during(started: float) -> None:
        while time.monotonic() - started < minutes * 60:
            samples.append(
                (time.monotonic() - started, {n: rss_mb(p.pid) for n, p in watched.items()})
            )
            await asyncio.sleep(30)

    asyncio.run(run_load(cluster, minutes * 60, visitors, tally, during))
    out, _ = load.communicate(timeout=120)
    wrk = next(
        (
            json.loads(line.removeprefix("HBJSON "))
            for line in out.splitlines()
            if line.startswith("HBJSON ")
        ),
        {},
    )
    lines = []
    after5 = [s for s in samples if s[0] >= 300] or samples
    for name in watched:
        first, last = after5[0][1][name], samples[-1][1][name]
        peak = max(s[1][name] for s in after5)
        growth = (last - first) / first * 100 if first else 0.0
        lines.append(
            f"| {name} | {samples[0][1][name]:.0f} | {first:.0f} | {last:.0f} | "
            f"{peak:.0f} | {growth:+.1f} % |"
        )
    lines.append(
        f"\nwrk: {wrk.get('ok_challenge', 0):,} challenges ({connections} connections, "
        f"{wrk.get('ok_challenge', 0) / (minutes * 60):,.0f}/s, errors "
        f"{sum(v for k, v in wrk.items() if k.startswith('errors_'))}, bad {wrk.get('bad')}); "
        f"full flows: {tally.ok} ok, {tally.error_count} errors, {tally.double_accept} double "
        f"accepts of {tally.replayed} replays; capacity {capacity:,.0f}/s at 64 connections"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="CI: flows, one fault (kill an edge)")
    parser.add_argument("--soak", type=float, default=0, help="minutes of soak at --visitors")
    parser.add_argument("--visitors", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10, help="per throughput measurement")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="haechi-cluster-"))
    os.chmod(work, 0o755)  # noqa: S103
    cluster = Cluster(work)
    report: list[str] = []
    failed = False
    try:
        cluster.start()
        base = f"http://127.0.0.1:{cluster.ports['lb']}"
        tally = Tally()
        asyncio.run(run_load(cluster, 5, 4, tally))
        log(
            f"flows through the balancer: {tally.ok} ok, errors {tally.errors}, "
            f"double accepts {tally.double_accept}"
        )
        if tally.ok == 0 or tally.double_accept:
            raise RuntimeError("the cluster does not serve full flows")
        ready = httpx.get(f"http://127.0.0.1:{cluster.ports['platform']}/readyz").json()
        log(f"platform /readyz: {ready}")
        log(f"balancer /healthz: {httpx.get(base + '/healthz').json()}")
        if args.soak:
            report += [
                "| process | RSS at start (MB) | at 5 min | at end | peak after 5 min | growth |",
                "|---|---|---|---|---|---|",
                *soak(cluster, args.soak, args.visitors),
            ]
        else:
            if not args.smoke:
                report += [
                    "| edges enabled | /v1/challenge per s | per edge core-second | cores used "
                    "per process | machine cores busy (all processes) |",
                    "|---|---|---|---|---|",
                    *measure_edges(cluster, args.seconds),
                ]
                report.append("")
            report += [
                "| fault (under load) | full flows ok | double accepts of replays | errors seen by "
                "visitors | alerts (state) |",
                "|---|---|---|---|---|",
            ]
            results = [fault_kill_edge(cluster, args.visitors, 70 if args.smoke else 75)]
            if not args.smoke:
                results.append(fault_redis_restart(cluster, args.visitors, 40))
                results.append(fault_postgres_stop(cluster, args.visitors, 60))
            for result in results:
                report.append(describe(result))
                if result["tally"].double_accept:
                    failed = True
            kill = results[0]
            if kill["alerts"].get("HaechiTargetDown") != "firing":
                log("HaechiTargetDown did not fire while an edge was down")
                failed = True
            if kill["tally"].ok == 0:
                failed = True
    except Exception:
        for proc in cluster.procs.values():
            if proc.name.startswith(("edge", "platform", "worker")):
                print(f"--- {proc.name} log tail\n{proc.tail()}", file=sys.stderr)
        raise
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(report))
    if failed:
        print(
            "cluster: FAILED (double accepts, no flows, or an alert did not fire)", file=sys.stderr
        )
        return 1
    print("cluster: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
