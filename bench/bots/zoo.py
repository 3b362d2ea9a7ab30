"""The bot families: Playwright-driven Chromium with each pointer strategy, headless and headed
(Xvfb), with and without a spoofed desktop user agent; and HTTP-only solvers that replay a real
session's telemetry. A family is one framework x one strategy x one browser setup.

Every browser family launches Debian's Chromium with ``--disable-blink-features=
AutomationControlled`` (``navigator.webdriver`` false), as the issue's attacker did. Puppeteer
with puppeteer-extra-plugin-stealth and Selenium are not in this run (see bench/bots/README.md).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.bots import paths
from bench.bots.harness import Harness, Session

DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# The same browser's own version with "Headless" taken out: a spoof Client Hints agree with.
SAME_VERSION_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{major}.0.0.0 Safari/537.36"
)
OUTCOME_TIMEOUT = 40.0


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    framework: str  # "playwright" | "http"
    strategy: str  # none | keyboard | teleport | straight | eased | bezier | windmouse | lowvar | zigzag | replay | copy
    headless: bool = True
    ua: str = (
        "own"  # own | desktop (Chrome/131 on Windows) | same (own version, "Headless" removed)
    )


def families() -> list[Family]:
    out: list[Family] = []
    for strategy in ("none", "keyboard", "teleport", *paths.STRATEGIES, "replay"):
        out.append(
            Family(f"pw-headless-desktopua/{strategy}", "playwright", strategy, True, "desktop")
        )
        out.append(Family(f"pw-headless-sameua/{strategy}", "playwright", strategy, True, "same"))
        out.append(Family(f"pw-headed/{strategy}", "playwright", strategy, False, "own"))
    out.append(Family("http/no-telemetry", "http", "none"))
    out.append(Family("http/copied-telemetry", "http", "copy"))
    return out


QUICK = (
    "pw-headless-desktopua/none",
    "pw-headed/teleport",
    "http/copied-telemetry",
)


class PlaywrightBots:
    """One browser per (headless, ua) setup, a fresh context per session."""

    def __init__(self, harness: Harness, approaches: list[paths.Approach], seed: int) -> None:
        self.harness = harness
        self.approaches = approaches
        self.rng = random.Random(seed)
        self._pw: Any = None
        self._browsers: dict[bool, Any] = {}

    async def __aenter__(self) -> PlaywrightBots:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for browser in self._browsers.values():
            await browser.close()
        await self._pw.stop()

    async def browser(self, headless: bool) -> Any:
        if headless not in self._browsers:
            self._browsers[headless] = await self._pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=headless,
                args=["--disable-blink-features=AutomationControlled", "--no-sandbox"],
            )
        return self._browsers[headless]

    async def session(self, family: Family) -> Session:
        browser = await self.browser(family.headless)
        ua: str | None = None
        if family.ua == "desktop":
            ua = DESKTOP_UA
        elif family.ua == "same":
            major = browser.version.split(".")[0]
            ua = SAME_VERSION_UA.format(major=major)
        context = await browser.new_context(user_agent=ua, viewport={"width": 1280, "height": 720})
        session, url = self.harness.new(family.name)
        try:
            page = await context.new_page()
            await page.goto(url)
            layout = await asyncio.to_thread(
                session.wait, lambda: (session.layout() or {}).get("box"), 20
            )
            if not layout:
                return session
            box = session.layout()["box"]  # type: ignore[index]
            await asyncio.sleep(self.rng.uniform(0.3, 1.2))
            await self.act(page, family, (box[0], box[1]))
            await asyncio.to_thread(session.wait, session.outcome, OUTCOME_TIMEOUT)
        finally:
            await context.close()
        return session

    async def act(self, page: Any, family: Family, target: tuple[float, float]) -> None:
        rng = self.rng
        target = (target[0] + rng.uniform(-4, 4), target[1] + rng.uniform(-4, 4))
        if family.strategy == "none":
            await page.evaluate(
                "[document.getElementById('w'), ...document.querySelectorAll('#w *')]"
                ".find((el) => el.shadowRoot).shadowRoot.querySelector('.box').click()"
            )
            return
        if family.strategy == "keyboard":
            await page.keyboard.press("Tab")  # the email field
            await page.keyboard.press("Tab")  # the checkbox
            await asyncio.sleep(rng.uniform(0.1, 0.3))
            await page.keyboard.press("Space")
            return
        if family.strategy == "teleport":
            await page.mouse.click(*target)
            return
        start = (rng.uniform(400, 1200), rng.uniform(300, 700))
        if family.strategy == "replay":
            steps = paths.verbatim(rng.choice(self.approaches), target)
            dwell = 90.0
        else:
            steps = paths.STRATEGIES[family.strategy](rng, start, target)
            dwell = rng.uniform(60, 120)
        await page.mouse.move(*start)
        for dt, x, y in steps:
            await asyncio.sleep(dt / 1000)
            await page.mouse.move(x, y)
        await asyncio.sleep(0.05)
        await page.mouse.down()
        await asyncio.sleep(dwell / 1000)
        await page.mouse.up()


async def http_session(
    family: Family, haechi_url: str, sitekey: str, copied: list[dict[str, Any]], rng: random.Random
) -> str:
    """An HTTP client: /v1/challenge and /v1/solve with a native proof-of-work, sending no
    telemetry, or a real person's telemetry copied from a recording."""
    from haechi.client import solve_pow

    tele_challenge = tele_solve = None
    if family.strategy == "copy" and copied:
        pick = rng.choice(copied)
        tele_challenge, tele_solve = pick.get("challenge"), pick.get("solve")
    headers = {"origin": "http://localhost", "user-agent": DESKTOP_UA}
    async with httpx.AsyncClient(base_url=haechi_url, headers=headers, timeout=30) as http:
        body: dict[str, Any] = {"v": 1, "sitekey": sitekey}
        if tele_challenge is not None:
            body["telemetry"] = tele_challenge
        reply = await http.post("/v1/challenge", json=body)
        ch = reply.json()
        if reply.status_code != 200 or ch.get("blocked") or "challenge" not in ch:
            return "denied"
        if ch.get("task"):
            return "task"
        nonces = await asyncio.to_thread(solve_pow, ch)
        solve: dict[str, Any] = {"v": 1, "challenge": ch["challenge"], "solution": {"pow": nonces}}
        if tele_solve is not None:
            solve["telemetry"] = tele_solve
        out = (await http.post("/v1/solve", json=solve)).json()
    if out.get("outcome") not in ("token", "step_up") and out.get("code") != "denied":
        raise RuntimeError(f"unexpected /v1/solve answer: {out}")
    if out.get("outcome") == "token":
        return "token"
    if out.get("outcome") == "step_up" and (out.get("challenge") or {}).get("task"):
        return "task"
    return "denied"


def copied_telemetry(recordings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per recorded person session, its challenge-time and solve-time telemetry."""
    out = []
    for rec in recordings:
        stages = {t["stage"]: t["telemetry"] for t in rec.get("telemetry", [])}
        if "solve" in stages:
            out.append({"challenge": stages.get("challenge"), "solve": stages["solve"]})
    return out


def save_recording(path: Any, family: str, session: Session, outcome: str) -> None:
    """One JSON line per session: the family, the outcome and the telemetry the widget sent
    (docs/telemetry.md), for the behaviour model's work (issue 18)."""
    line = {
        "family": family,
        "outcome": outcome,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "telemetry": session.telemetry(),
    }
    with open(path, "a") as f:
        f.write(json.dumps(line, separators=(",", ":")) + "\n")
