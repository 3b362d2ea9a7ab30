"""The bot families. A family is one framework x one pointer strategy x one browser setup:

- ``pw-*``: Playwright driving Debian's Chromium (headless with a desktop or same-version user
  agent, or headed under Xvfb);
- ``pptr-stealth-*``: Puppeteer through puppeteer-extra with puppeteer-extra-plugin-stealth, and
  npm ghost-cursor for its Bézier approach (``ghost``), via bench/bots/pptr.js (``npm ci``);
- ``ff-pptr-*``: Firefox ESR driven by Puppeteer over WebDriver BiDi (geckodriver is not
  packaged for Debian and cannot be fetched here, so Selenium cannot drive Firefox);
- ``sel-*``: Selenium with Debian's chromedriver (the usual stealth options: no
  ``enable-automation`` switch, no automation extension, AutomationControlled off);
- ``uc-*``: undetected-chromedriver (its patched copy of Debian's chromedriver, offline);
- ``http/*``: HTTP-only solvers, sending no telemetry or a real person's copied telemetry.

Every Chromium runs with ``--disable-blink-features=AutomationControlled`` (``navigator.
webdriver`` false), as the issue's attacker did. Strategies: ``none`` (a script's
``element.click()``), ``keyboard``, ``teleport``, the paths in bench/bots/paths.py (straight,
eased, bezier, windmouse, lowvar, zigzag), ``ghost`` (npm ghost-cursor), ``replay`` (a held-out
person's recorded approach replayed verbatim) and ``warped`` (the same approaches rotated and
scaled onto the target exactly as the people harness moves them: only the automation signals,
not the behaviour model, can tell these from people).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
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
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    framework: str  # playwright | puppeteer | firefox | selenium | uc | http
    strategy: str  # none | keyboard | teleport | straight | eased | bezier | ghost | windmouse | lowvar | zigzag | replay | warped | copy
    headless: bool = True
    ua: str = (
        "own"  # own | desktop (Chrome/131 on Windows) | same (own version, "Headless" removed)
    )
    # The window at the screen's corner (--window-position=0,0): where a Wayland window would
    # be, so the widget does not judge the input clock (docs/telemetry.md, clock_n/clock_off).
    at00: bool = False


PATHS = (*paths.STRATEGIES, "replay", "warped")


def families() -> list[Family]:
    out: list[Family] = []
    for strategy in ("none", "keyboard", "teleport", *PATHS):
        out.append(
            Family(f"pw-headless-desktopua/{strategy}", "playwright", strategy, True, "desktop")
        )
        out.append(Family(f"pw-headless-sameua/{strategy}", "playwright", strategy, True, "same"))
        out.append(Family(f"pw-headed/{strategy}", "playwright", strategy, False, "own"))
    # Puppeteer + stealth: the stealth plugin itself takes "Headless" out of the user agent.
    for strategy in ("none", "keyboard", "teleport", "ghost", *PATHS):
        out.append(Family(f"pptr-stealth-headless/{strategy}", "puppeteer", strategy, True))
        out.append(Family(f"pptr-stealth-headed/{strategy}", "puppeteer", strategy, False))
    out.append(
        Family("pptr-stealth-headless-desktopua/ghost", "puppeteer", "ghost", True, "desktop")
    )
    for strategy in ("bezier", "eased", "warped"):
        out.append(Family(f"pw-headed-at00/{strategy}", "playwright", strategy, False, at00=True))
    for strategy in ("ghost", "warped"):
        out.append(
            Family(f"pptr-stealth-headed-at00/{strategy}", "puppeteer", strategy, False, at00=True)
        )
    for strategy in ("none", "keyboard", "teleport", "ghost", "windmouse", "replay", "warped"):
        out.append(Family(f"ff-pptr-headless/{strategy}", "firefox", strategy, True))
        out.append(Family(f"ff-pptr-headed/{strategy}", "firefox", strategy, False))
    for strategy in (
        "none",
        "keyboard",
        "teleport",
        "straight",
        "bezier",
        "windmouse",
        "replay",
        "warped",
    ):
        out.append(Family(f"sel-headless-sameua/{strategy}", "selenium", strategy, True, "same"))
        out.append(Family(f"sel-headed/{strategy}", "selenium", strategy, False))
        out.append(Family(f"uc-headless-sameua/{strategy}", "uc", strategy, True, "same"))
        out.append(Family(f"uc-headed/{strategy}", "uc", strategy, False))
    out.append(Family("sel-headless-desktopua/bezier", "selenium", "bezier", True, "desktop"))
    out.append(Family("http/no-telemetry", "http", "none"))
    out.append(Family("http/copied-telemetry", "http", "copy"))
    # A person's telemetry from an earlier run (recordings/people__pointer.jsonl): the server
    # has never seen it, so its repeat detection cannot catch the first use.
    out.append(Family("http/copied-unseen", "http", "copy-unseen"))
    # This run's people's telemetry, every event moved by up to a pixel and a millisecond:
    # what an exact digest of the events (the repeat detection) no longer matches.
    out.append(Family("http/copied-perturbed", "http", "copy-perturbed"))
    # The unseen copy again, with the headers Chromium 156 on Linux sends (Client Hints, Fetch
    # Metadata, Accept-Language), as an HTTP solver that copied a browser's request would.
    out.append(Family("http/copied-unseen-browserheaders", "http", "copy-unseen-browser"))
    return out


# make bench-bots (about two hours on a quiet 2-core machine at 100 sessions each): every
# framework's most human-like strategies, the cheap ones once, every HTTP solver.
FULL = (
    "http/no-telemetry",
    "http/copied-telemetry",
    "http/copied-unseen",
    "http/copied-perturbed",
    "http/copied-unseen-browserheaders",
    "pw-headless-desktopua/none",
    "pw-headed/keyboard",
    "pw-headed/teleport",
    "pw-headed/bezier",
    "pw-headed/eased",
    "pw-headed-at00/warped",
    "pptr-stealth-headed/ghost",
    "pptr-stealth-headed/warped",
    "pptr-stealth-headless/ghost",
    "ff-pptr-headed/ghost",
    "sel-headed/warped",
    "uc-headed/warped",
)

QUICK = (
    "pw-headed/teleport",
    "pptr-stealth-headed/ghost",
    "http/copied-telemetry",
)


def outcome_timeout(family: Family) -> float:
    """As long for every strategy: a slow token (proof-of-work on a loaded machine) must not be
    counted as no outcome."""
    return OUTCOME_TIMEOUT


def task_type(session: Session) -> str:
    """The type of the task a session was shown (grid, abstract, handwriting, audio)."""
    task = (session.last_challenge() or {}).get("task") or {}
    return str(task.get("type") or task.get("kind") or "?")


def plan(
    rng: random.Random,
    family: Family,
    target: tuple[float, float],
    approaches: list[paths.Approach],
) -> tuple[tuple[float, float], paths.Path_, float]:
    """Where the pointer starts, its moves (dt ms, x, y) onto ``target``, and the press's hold."""
    if family.strategy in ("replay", "warped"):
        approach = rng.choice(approaches)
        if family.strategy == "replay":
            steps = paths.verbatim(approach, target)
        else:
            steps = paths.place(approach, rng, target, (1278.0, 718.0))
        return (steps[0][1], steps[0][2]), steps[1:], min(150.0, approach.dwell_ms)
    start = (rng.uniform(400, 1200), rng.uniform(300, 700))
    if family.strategy in paths.STRATEGIES:
        return start, paths.STRATEGIES[family.strategy](rng, start, target), rng.uniform(60, 120)
    return start, [], rng.uniform(60, 120)


class Driver:
    """One bot session the same way for every framework: open the page, wait until the widget is
    laid out, pause, act on the checkbox, wait for the outcome, close."""

    def __init__(self, harness: Harness, approaches: list[paths.Approach], seed: int) -> None:
        self.harness = harness
        self.approaches = approaches
        self.rng = random.Random(seed)

    async def open(self, family: Family, url: str) -> None:
        raise NotImplementedError

    async def act(self, family: Family, start: tuple[float, float], target: tuple[float, float],
                  steps: paths.Path_, dwell: float) -> None:  # fmt: skip
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def session(self, family: Family) -> Session:
        session, url = self.harness.new(family.name)
        try:
            await self.open(family, url)
            layout = await asyncio.to_thread(
                session.wait, lambda: (session.layout() or {}).get("box"), 20
            )
            if not layout:
                return session
            box = session.layout()["box"]  # type: ignore[index]
            await asyncio.sleep(self.rng.uniform(0.3, 1.2))
            target = (box[0] + self.rng.uniform(-4, 4), box[1] + self.rng.uniform(-4, 4))
            start, steps, dwell = plan(self.rng, family, target, self.approaches)
            await self.act(family, start, target, steps, dwell)
            await asyncio.to_thread(session.wait, session.outcome, outcome_timeout(family))
        except Exception as error:  # a crashed driver is no token; the session says "none"
            print(f"    {family.name} session failed: {error!r}", file=sys.stderr)
        finally:
            with contextlib.suppress(Exception):
                await self.close()
        return session


class PuppeteerBots(Driver):
    """bench/bots/pptr.js in one Node process: Puppeteer + stealth (Chromium), or Firefox ESR."""

    _proc: Any = None
    _ids = 0

    async def __aenter__(self) -> PuppeteerBots:
        if not (HERE / "node_modules" / "puppeteer-extra-plugin-stealth").is_dir():
            raise RuntimeError("Puppeteer families need `npm ci` in bench/bots")
        self._proc = await asyncio.create_subprocess_exec(
            "node", str(HERE / "pptr.js"), cwd=HERE,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.call("quit", timeout=30)
        if self._proc.returncode is None:
            self._proc.kill()
        await self._proc.wait()

    async def call(self, op: str, timeout: float = 60, **fields: Any) -> dict[str, Any]:
        self._ids += 1
        self._proc.stdin.write((json.dumps({"id": self._ids, "op": op, **fields}) + "\n").encode())
        await self._proc.stdin.drain()
        while True:
            line = await asyncio.wait_for(self._proc.stdout.readline(), timeout)
            if not line:
                raise RuntimeError("pptr.js exited")
            answer = json.loads(line)
            if answer.get("id") == self._ids:
                break
        if not answer.get("ok"):
            raise RuntimeError(f"pptr.js {op}: {answer.get('error')}")
        return dict(answer)

    async def open(self, family: Family, url: str) -> None:
        ua = DESKTOP_UA if family.ua == "desktop" else None
        browser = "firefox" if family.framework == "firefox" else "chrome"
        await self.call(
            "open", browser=browser, headless=family.headless, ua=ua, url=url, at00=family.at00
        )

    async def act(self, family: Family, start: tuple[float, float], target: tuple[float, float],
                  steps: paths.Path_, dwell: float) -> None:  # fmt: skip
        await self.call(
            "act", timeout=120, strategy=family.strategy, start=list(start), target=list(target),
            steps=[list(s) for s in steps], dwell=dwell,
        )  # fmt: skip

    async def close(self) -> None:
        await self.call("close")


class SeleniumBots(Driver):
    """Selenium with Debian's chromedriver, or undetected-chromedriver (its patched copy of the
    same driver), a new browser per session; W3C pointer actions move the pointer."""

    _driver: Any = None
    _version: str | None = None

    def _start(self, family: Family, url: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        args = ["--no-sandbox", "--disable-blink-features=AutomationControlled",
                "--window-size=1280,800"]  # fmt: skip
        if family.headless:
            args.append("--headless=new")
        if family.ua == "desktop":
            args.append(f"--user-agent={DESKTOP_UA}")
        elif family.ua == "same":
            if self._version is None:
                import subprocess

                out = subprocess.run(["chromium", "--version"], capture_output=True, text=True)
                self._version = out.stdout.split()[1].split(".")[0]
            args.append(f"--user-agent={SAME_VERSION_UA.format(major=self._version)}")
        if family.framework == "uc":
            import undetected_chromedriver as uc

            options = uc.ChromeOptions()
            for arg in args:
                if arg != "--headless=new":
                    options.add_argument(arg)
            self._driver = uc.Chrome(
                options=options, driver_executable_path="/usr/bin/chromedriver",
                browser_executable_path="/usr/bin/chromium", headless=family.headless,
                version_main=int(self._version or _chromium_major()),
            )  # fmt: skip
        else:
            options = webdriver.ChromeOptions()
            options.binary_location = "/usr/bin/chromium"
            for arg in args:
                options.add_argument(arg)
            options.add_experimental_option("excludeSwitches", ["enable-automation"])
            options.add_experimental_option("useAutomationExtension", False)
            self._driver = webdriver.Chrome(
                service=Service("/usr/bin/chromedriver"), options=options
            )
        self._driver.get(url)

    def _act(self, family: Family, start: tuple[float, float], target: tuple[float, float],
             steps: paths.Path_, dwell: float) -> None:  # fmt: skip
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        from selenium.webdriver.common.keys import Keys

        driver = self._driver
        if family.strategy == "none":
            driver.execute_script(BOX_JS + ".click()")
            return
        if family.strategy == "keyboard":
            ActionChains(driver).send_keys(Keys.TAB).send_keys(Keys.TAB).pause(
                self.rng.uniform(0.1, 0.3)
            ).send_keys(Keys.SPACE).perform()
            return
        builder = ActionBuilder(driver, duration=0)
        pointer = builder.pointer_action
        if family.strategy == "teleport":
            pointer.move_to_location(round(target[0]), round(target[1]))
        else:
            pointer.move_to_location(round(start[0]), round(start[1]))
            for dt, x, y in steps:
                if dt > 0:
                    pointer.pause(dt / 1000)
                pointer.move_to_location(round(x), round(y))
            pointer.pause(0.05)
        pointer.pointer_down()
        pointer.pause(dwell / 1000)
        pointer.pointer_up()
        builder.perform()

    def _quit(self) -> None:
        if self._driver is not None:
            driver, self._driver = self._driver, None
            driver.quit()

    async def open(self, family: Family, url: str) -> None:
        await asyncio.to_thread(self._start, family, url)

    async def act(self, family: Family, start: tuple[float, float], target: tuple[float, float],
                  steps: paths.Path_, dwell: float) -> None:  # fmt: skip
        await asyncio.to_thread(self._act, family, start, target, steps, dwell)

    async def close(self) -> None:
        await asyncio.to_thread(self._quit)

    async def __aenter__(self) -> SeleniumBots:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@functools.cache
def _chromium_major() -> str:
    import subprocess

    out = subprocess.run(["chromium", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[1].split(".")[0]


# The widget's checkbox, inside its shadow root (the "none" strategy clicks it from a script).
BOX_JS = (
    "[document.getElementById('w'), ...document.querySelectorAll('#w *')]"
    ".find((el) => el.shadowRoot).shadowRoot.querySelector('.box')"
)


class PlaywrightBots:
    """One browser per (headless, ua) setup, a fresh context per session."""

    def __init__(self, harness: Harness, approaches: list[paths.Approach], seed: int) -> None:
        self.harness = harness
        self.approaches = approaches
        self.rng = random.Random(seed)
        self._pw: Any = None
        self._browsers: dict[tuple[bool, bool], Any] = {}

    async def __aenter__(self) -> PlaywrightBots:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for browser in self._browsers.values():
            await browser.close()
        await self._pw.stop()

    async def browser(self, headless: bool, at00: bool = False) -> Any:
        key = (headless, at00)
        if key not in self._browsers:
            args = ["--disable-blink-features=AutomationControlled", "--no-sandbox"]
            self._browsers[key] = await self._pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=headless,
                args=[*args, "--window-position=0,0"] if at00 else args,
            )
        return self._browsers[key]

    async def session(self, family: Family) -> Session:
        browser = await self.browser(family.headless, family.at00)
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
            box = layout  # the checkbox as the page laid it out (a later layout may lack it)
            await asyncio.sleep(self.rng.uniform(0.3, 1.2))
            await self.act(page, family, (box[0], box[1]))
            await asyncio.to_thread(session.wait, session.outcome, outcome_timeout(family))
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
        start, steps, dwell = plan(rng, family, target, self.approaches)
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
    if family.strategy.startswith("copy-unseen"):
        copied = unseen_telemetry(rng)
    elif family.strategy == "copy" and not copied:  # no people in this run: earlier ones
        copied = unseen_telemetry(rng)
    if family.strategy.startswith("copy") and copied:
        pick = rng.choice(copied)
        tele_challenge, tele_solve = pick.get("challenge"), pick.get("solve")
        if family.strategy == "copy-perturbed" and tele_solve is not None:
            tele_solve = perturb(tele_solve, rng)
    headers = {"origin": "http://localhost", "user-agent": DESKTOP_UA}
    if family.strategy.endswith("-browser"):
        major = _chromium_major()
        headers = {
            "origin": "http://localhost",
            "referer": "http://localhost/",
            "user-agent": SAME_VERSION_UA.format(major=major),
            "accept": "*/*",
            "accept-language": "en-US,en;q=0.9",
            "sec-ch-ua": f'"Not:A-Brand";v="8", "Chromium";v="{major}"',
            "sec-ch-ua-platform": '"Linux"',
            "sec-ch-ua-mobile": "?0",
            "sec-fetch-site": "cross-site",
            "sec-fetch-mode": "cors",
            "sec-fetch-dest": "empty",
        }
    async with httpx.AsyncClient(base_url=haechi_url, headers=headers, timeout=30) as http:
        body: dict[str, Any] = {"v": 1, "sitekey": sitekey}
        if tele_challenge is not None:
            body["telemetry"] = tele_challenge
        reply = await http.post("/v1/challenge", json=body)
        ch = reply.json()
        if reply.status_code != 200 or ch.get("blocked") or "challenge" not in ch:
            return "denied"
        if ch.get("task"):
            return "task:" + str(ch["task"].get("type") or "?")
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
        return "task:" + str(out["challenge"]["task"].get("type") or "?")
    return "denied"


def perturb(telemetry: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of v2 telemetry (docs/telemetry.md) with every event's x and y moved by up to
    1 px (whole pixels, as a mouse reports them) and its time by up to 1 ms (in order)."""
    import base64
    import struct

    out = json.loads(json.dumps(telemetry))
    events = out.get("events")
    if not isinstance(events, dict) or not events.get("k"):
        return out
    n = len(events["k"])
    raw = base64.b64decode(events["d"])
    ts = list(struct.unpack_from(f"<{n}I", raw, 0))
    xs = list(struct.unpack_from(f"<{n}i", raw, 4 * n))
    ys = list(struct.unpack_from(f"<{n}i", raw, 8 * n))
    last = 0
    for i in range(n):
        ts[i] = max(last, ts[i] + rng.randint(-1, 1))
        last = ts[i]
        if events["k"][i] in "mdu":
            xs[i] += 100 * rng.randint(-1, 1)
            ys[i] += 100 * rng.randint(-1, 1)
    packed = struct.pack(f"<{n}I{n}i{n}i", *ts, *xs, *ys) + raw[12 * n :]
    events["d"] = base64.b64encode(packed).decode()
    return dict(out)


_UNSEEN: list[dict[str, Any]] = []
_STARTED = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def unseen_telemetry(rng: random.Random) -> list[dict[str, Any]]:
    """One person's session from an earlier run, each used once (popped), newest last."""
    if not _UNSEEN:
        found = HERE / "recordings" / "people__pointer.jsonl"
        lines = [json.loads(x) for x in found.read_text().splitlines() if x.strip()]
        # Recorded before this run started: this run's people are on this server already.
        lines = [x for x in lines if x.get("outcome") == "token" and x["recorded_at"] < _STARTED]
        _UNSEEN.extend(copied_telemetry(lines))
        rng.shuffle(_UNSEEN)
    return [_UNSEEN.pop()] if _UNSEEN else []


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


_ENGINE: Any = None


async def decision(session: Session) -> dict[str, Any]:
    """For a bot session that got a token: what the server planned (from its /v1/challenge
    answer) and what the risk engine says of the telemetry the widget sent, scored offline as
    ``haechi risk score`` would (the server's header checks and repeat detection are not in it)."""
    global _ENGINE
    from haechi.risk.cli import edge_engine
    from haechi.risk.scoring import RiskInput
    from haechi.risk.telemetry import parse_telemetry

    out: dict[str, Any] = {}
    challenge = session.last_challenge() or {}
    out["plan"] = {k: v for k, v in challenge.items() if k not in ("challenge", "task", "salt")}
    if _ENGINE is None:
        _ENGINE = edge_engine(None)
    for item in session.telemetry():
        result = await _ENGINE.score(
            RiskInput(telemetry=parse_telemetry(item["telemetry"]), stage=item["stage"])
        )
        out[item["stage"]] = {"risk": result.risk, "reasons": list(result.reasons)}
    return out
