"""`haechi serve` on embedded defaults killed with SIGKILL in the middle of a load, then started
again: no token and no challenge from before the kill is accepted (the in-process store's epoch
died with it). A graceful restart keeps them: tests/e2e/test_serve.py, and the snapshot's epoch in
tests/integration/test_store_epoch.py."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from haechi.protocol import pow as pow_

from .server import Haechi

ORIGIN = "http://localhost"
LIGHT_POLICY = json.dumps([{"max_risk": 100, "pow_bits": 5, "pow_count": 2}])


def captcha(http: httpx.Client, sitekey: str) -> tuple[dict[str, Any], str | None]:
    """A challenge, and the token its solution earned (None when it earned none)."""
    challenge = http.post(
        "/v1/challenge", json={"v": 1, "sitekey": sitekey}, headers={"origin": ORIGIN}
    ).json()
    return challenge, solve(http, challenge)


def solve(http: httpx.Client, challenge: dict[str, Any]) -> str | None:
    p = challenge["pow"]
    answer = pow_.solve(pow_.PowParams(p["prefix"].split(":")[1], p["bits"], p["count"]))
    reply = http.post(
        "/v1/solve",
        json={"v": 1, "challenge": challenge["challenge"], "solution": {"pow": answer}},
        headers={"origin": ORIGIN},
    ).json()
    return reply.get("token")


def verified(http: httpx.Client, secret: str, token: str) -> bool:
    return bool(
        http.post("/siteverify", data={"secret": secret, "response": token}).json()["success"]
    )


def test_kill_9_mid_load_then_restart_accepts_nothing_twice(tmp_path: Path) -> None:
    env = {"HAECHI_POLICY__BANDS": LIGHT_POLICY, "HAECHI_POOLS__STARTER": "false"}
    server = Haechi(tmp_path / "data", env)
    server.start()
    demo = server.demo
    challenges: list[dict[str, Any]] = []
    tokens: list[str] = []
    spent: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as http:
            while not stop.is_set():
                try:
                    challenge, token = captcha(http, demo["sitekey"])
                    challenges.append(challenge)
                    if token is not None:
                        tokens.append(token)
                        if verified(http, demo["secret"], token):
                            spent.append(token)
                except (httpx.HTTPError, KeyError, ValueError):
                    return  # the server is gone

    try:
        workers = [threading.Thread(target=load) for _ in range(3)]
        for worker in workers:
            worker.start()
        time.sleep(2.0)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)  # mid-load: requests in flight
        server.proc.wait()
        stop.set()
        for worker in workers:
            worker.join()
        assert len(spent) >= 10, len(spent)
        server.start()
        with httpx.Client(base_url=server.url, timeout=5) as http:
            again = sum(verified(http, demo["secret"], token) for token in tokens)
            solved = sum(solve(http, challenge) is not None for challenge in challenges)
            print(
                f"kill -9: {len(spent)} tokens verified before; replayed {len(tokens)} tokens: "
                f"{again} accepted, {len(challenges)} challenges: {solved} solved"
            )
            assert again == 0 and solved == 0
            # The restarted server works.
            _, token = captcha(http, demo["sitekey"])
            assert token is not None and verified(http, demo["secret"], token)
    finally:
        stop.set()
        server.stop()
