"""What the bots and the people share: a Haechi server on the README's defaults, a sign-up page
that embeds the widget, and a small HTTP server that serves the page and collects what happened.

The page is plain HTML on its own origin (``localhost``), loading ``/v1/widget.js`` from Haechi
like any site. For the harness only, it reports through ``/r/<session>``: the widget's events
(``haechi-state``, ``haechi-verified``, ``haechi-error``), the layout (where the checkbox and a
task's buttons are, so OS-level input can aim), and the bodies of ``/v1/challenge`` and
``/v1/solve`` (their telemetry is what ``recordings/`` keeps). Nothing here is in the product:
a real page reports nothing.

Outcome of a session, from what the page saw first: ``token`` (a token with no task shown),
``task`` (a visual task was shown), ``denied`` (the flow failed: ``denied`` or any other error),
``none`` (nothing within the time limit).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign up</title>
<style>body{margin:0;font:16px sans-serif}form{padding:48px 72px;max-width:520px}
label{display:block;margin:0 0 14px}input{font:inherit;padding:6px}</style></head><body>
<form id="f" onsubmit="return false"><h1>Create an account</h1>
<label>Email <input id="email" name="email" autocomplete="off"></label>
<div id="w" class="haechi" data-sitekey="__SITEKEY__"></div>
<p><button id="go" type="submit">Create account</button></p></form>
<script>
(() => {
  const sid = "__SID__";
  const post = (k, v) => { try { fetch("/r/" + sid, {method: "POST", keepalive: true,
    body: JSON.stringify({k, v, t: Math.round(performance.now())})}); } catch (e) {} };
  const real = window.fetch;
  window.fetch = async function (input, init) {
    const url = String((input && input.url) || input);
    const reply = await real.apply(this, arguments);
    if (url.includes("/v1/challenge") || url.includes("/v1/solve")) {
      reply.clone().text().then((res) => post(url.includes("/v1/solve") ? "solve" : "challenge",
        {req: init && typeof init.body === "string" ? init.body : null, res}));
    }
    return reply;
  };
  for (const name of ["haechi-state", "haechi-verified", "haechi-error"])
    document.addEventListener(name, (e) => post(name.slice(7), e.detail === undefined ? null : e.detail), true);
  const rect = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
    return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2), Math.round(r.width), Math.round(r.height)]; };
  let last = "";
  setInterval(() => {
    const w = document.getElementById("w");
    const host = w.shadowRoot ? w : [...w.querySelectorAll("*")].find((el) => el.shadowRoot);
    const root = host ? host.shadowRoot : null;
    const dialog = root && root.querySelector("dialog");
    const layout = {
      box: rect(root && root.querySelector(".box .mark")),
      email: rect(document.getElementById("email")),
      cells: dialog ? [...dialog.querySelectorAll(".grid button")].map(rect) : [],
      verify: rect(dialog && dialog.querySelector("button.primary")),
      alt: rect(dialog && dialog.querySelector("button.alt")),
      input: rect(dialog && dialog.querySelector("input")),
      dialog: !!dialog,
      // Which of the widget's controls has the focus (a keyboard user sees the focus ring).
      focus: root && root.activeElement ? (root.activeElement.id || root.activeElement.className
        || root.activeElement.tagName.toLowerCase()) : null,
      // Where the page sits on the screen (for xdotool): the window's corner and its chrome.
      screen: [screenX, screenY, outerWidth - innerWidth, outerHeight - innerHeight],
    };
    const text = JSON.stringify(layout);
    if (text !== last) { last = text; post("layout", layout); }
  }, 100);
})();
</script>
<script src="__HAECHI__/v1/widget.js" async></script>
</body></html>"""


@dataclass
class Session:
    sid: str
    family: str
    events: list[dict[str, Any]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, item: dict[str, Any]) -> None:
        with self.cond:
            self.events.append(item)
            self.cond.notify_all()

    def layout(self) -> dict[str, Any] | None:
        with self.cond:
            found = [e["v"] for e in self.events if e["k"] == "layout"]
        return found[-1] if found else None

    def outcome(self) -> str | None:
        """token / task / denied, from the first decisive event; None while undecided."""
        with self.cond:
            for e in self.events:
                if e["k"] == "state" and e["v"] == "interactive":
                    return "task"
                if e["k"] == "verified":
                    return "token"
                if e["k"] == "error":
                    return "denied"
        return None

    def tasks_shown(self) -> int:
        with self.cond:
            return sum(1 for e in self.events if e["k"] == "state" and e["v"] == "interactive")

    def final(self) -> str | None:
        """For people: how the whole flow ended (``token`` or ``denied``), tasks included."""
        with self.cond:
            for e in self.events:
                if e["k"] == "verified":
                    return "token"
                if e["k"] == "error":
                    return "denied"
        return None

    def wait(self, check: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                self.cond.release()
                try:
                    value = check()
                finally:
                    self.cond.acquire()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    return value
                self.cond.wait(min(left, 0.2))

    def telemetry(self) -> list[dict[str, Any]]:
        """The telemetry objects the widget sent (challenge and solve), in order."""
        out: list[dict[str, Any]] = []
        with self.cond:
            for e in self.events:
                if (
                    e["k"] in ("challenge", "solve")
                    and isinstance(e["v"], dict)
                    and e["v"].get("req")
                ):
                    with contextlib.suppress(ValueError, TypeError):
                        body = json.loads(e["v"]["req"])
                        if isinstance(body.get("telemetry"), dict):
                            out.append({"stage": e["k"], "telemetry": body["telemetry"]})
        return out

    def last_challenge(self) -> dict[str, Any] | None:
        """The newest challenge object the page received (from /v1/challenge or a step-up)."""
        with self.cond:
            for e in reversed(self.events):
                if e["k"] in ("challenge", "solve") and isinstance(e["v"], dict):
                    with contextlib.suppress(ValueError, TypeError):
                        res = json.loads(e["v"]["res"])
                        if e["k"] == "challenge" and "challenge" in res:
                            return dict(res)
                        if res.get("outcome") == "step_up":
                            return dict(res["challenge"])
        return None


class Harness:
    """The page server: ``GET /p/<sid>`` serves the page, ``POST /r/<sid>`` collects."""

    def __init__(self, haechi_url: str, sitekey: str) -> None:
        self.haechi_url = haechi_url
        self.sitekey = sitekey
        self.sessions: dict[str, Session] = {}
        harness = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                sid = self.path.split("?")[0].rsplit("/", 1)[-1]
                if not self.path.startswith("/p/") or sid not in harness.sessions:
                    self.send_error(404)
                    return
                body = (
                    PAGE.replace("__SITEKEY__", harness.sitekey)
                    .replace("__SID__", sid)
                    .replace("__HAECHI__", harness.haechi_url)
                    .encode()
                )
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("cache-control", "no-store")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                sid = self.path.rsplit("/", 1)[-1]
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(min(length, 1 << 20))
                session = harness.sessions.get(sid)
                if session is not None:
                    with contextlib.suppress(ValueError):
                        session.add(json.loads(raw))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def new(self, family: str) -> tuple[Session, str]:
        sid = secrets.token_hex(8)
        session = self.sessions[sid] = Session(sid, family)
        return session, f"http://localhost:{self.port}/p/{sid}"

    def close(self) -> None:
        self.server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HaechiServer:
    """``haechi serve`` on the README's defaults (embedded: SQLite, in-process store and jobs,
    starter pools), in a fresh data directory; only the harness's site is added."""

    def __init__(
        self, workdir: Path | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="haechi-bots-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HAECHI_")}
        self.env.update({"HAECHI_DATA_DIR": str(self.data), "HAECHI_LOG__JSON": "false"})
        self.env.update(extra_env or {})
        self.log_path = self.dir / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def haechi(self, *args: str) -> str:
        out = subprocess.run(
            [str(BIN / "haechi"), *args], env=self.env, capture_output=True, text=True, check=True
        )
        return out.stdout

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / "haechi"), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"haechi serve exited: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        raise RuntimeError("haechi serve did not open its port")

    def site(self) -> tuple[str, str]:
        raw = self.haechi("sites", "create", "--name", "bots", "--hostname", "localhost", "--json")
        data = json.loads(raw)
        return str(data["sitekey"]), str(data["secret"])

    def offered(self) -> list[str]:
        """The types the last "challenge types offered" log line names."""
        found: list[str] = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if "challenge types offered:" in line:
                text = line.split("challenge types offered:", 1)[1].split(";")[0].strip()
                found = [] if text.startswith("none") else [t.strip() for t in text.split(",")]
        return found

    def wait_for_pools(self, types: tuple[str, ...], timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            offered = self.offered()
            if all(t in offered for t in types):
                return offered
            time.sleep(1)
        return self.offered()

    def keyring(self) -> Any:
        """The server's keyring (development keys in its data dir): the harness opens sealed
        challenges with it to answer tasks as a person who can see would. Test-only access."""
        from haechi.core.crypto import Keyring, load_or_create_dev_keys

        stored = load_or_create_dev_keys(self.data)
        ring = stored["keyring"]
        assert isinstance(ring, dict)
        return Keyring.from_settings(ring, str(stored["active"]))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
