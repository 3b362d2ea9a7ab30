"""People through the widget without automation: a normally launched Chromium under Xvfb (no
DevTools connection, no automation flags, its own profile), driven by operating-system input
from xdotool: the pointer follows held-out SapiMouse subjects' recorded approaches (moved onto
the target, timing as recorded), keys are typed with human-like gaps, buttons are held 40-150 ms.

Kinds of person: ``pointer`` (fills the email field, then ticks the checkbox), ``keyboard``
(Tab, type, Tab, Space; tasks answered with arrow keys and Space). Touch is not here: xdotool
has no touch input, and synthetic touch through the DevTools protocol would be automation.

When a task is shown, the harness answers it as a person who can see would: it opens the sealed
challenge with the server's development keyring (test-only access; the product never sends an
answer to the browser) and clicks the right cells (or, for a handwriting task, takes the audio
alternative and types the digits: the audio path).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bots import paths
from bench.bots.harness import Session

DISPLAY_SIZE = (1280, 800)


@dataclass
class Desktop:
    """Xvfb plus one Chromium started the ordinary way (a new window per person)."""

    display: str
    xvfb: subprocess.Popen[bytes]
    profile: Path
    browser: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls) -> Desktop:
        if not (shutil.which("Xvfb") and shutil.which("xdotool") and shutil.which("chromium")):
            raise RuntimeError(
                "needs Xvfb, xdotool and chromium (apt-get install xvfb xdotool chromium)"
            )
        number = random.Random(os.getpid()).randint(200, 900)
        display = f":{number}"
        xvfb = subprocess.Popen(
            [
                "Xvfb",
                display,
                "-screen",
                "0",
                f"{DISPLAY_SIZE[0]}x{DISPLAY_SIZE[1]}x24",
                "-nolisten",
                "tcp",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        return cls(display, xvfb, Path(tempfile.mkdtemp(prefix="haechi-person-")))

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def open(self, url: str, browser: str = "chromium") -> None:
        """Close the previous window and open ``url`` in a fresh Chromium (as a person opening
        a link): no remote debugging, no automation switches. ``--no-sandbox`` only because the
        harness runs as root; ``--password-store=basic`` keeps it from prompting for a keyring."""
        self.close_browser()
        # A fresh folder per window: the closed browser's helpers may still be writing into the
        # old one (reusing its path raised FileExistsError in CI's smoke run).
        shutil.rmtree(self.profile, ignore_errors=True)
        self.profile = Path(tempfile.mkdtemp(prefix="haechi-person-"))
        if browser == "firefox":
            # Firefox ESR the same way: a new profile with the first-run pages turned off.
            (self.profile / "user.js").write_text(
                'user_pref("browser.aboutwelcome.enabled", false);\n'
                'user_pref("datareporting.policy.firstRunURL", "");\n'
                'user_pref("browser.startup.homepage_override.mstone", "ignore");\n'
                'user_pref("trailhead.firstrun.didSeeAboutWelcome", true);\n'
                'user_pref("browser.shell.checkDefaultBrowser", false);\n'
            )
            command = [
                "firefox-esr", "--no-remote", "--new-instance", "--profile", str(self.profile),
                "--width", str(DISPLAY_SIZE[0]), "--height", str(DISPLAY_SIZE[1]), url,
            ]  # fmt: skip
        else:
            command = [
                "chromium", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
                "--password-store=basic", f"--user-data-dir={self.profile}",
                # Not at the corner: a window at (0, 0) is not judged by the input clock.
                "--window-position=8,8", f"--window-size={DISPLAY_SIZE[0]},{DISPLAY_SIZE[1]}", url,
            ]  # fmt: skip
        self.browser = subprocess.Popen(
            command,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def xdo(self, script: str) -> None:
        """Run an xdotool script (one command a line) in one process: timing stays close to the
        recording's."""
        subprocess.run(
            ["xdotool", "-"], input=script.encode(), env=self.env(), check=True, timeout=120
        )

    def close_browser(self) -> None:
        if self.browser is not None and self.browser.poll() is None:
            self.browser.terminate()
            try:
                self.browser.wait(10)
            except subprocess.TimeoutExpired:
                self.browser.kill()
        self.browser = None

    def stop(self) -> None:
        self.close_browser()
        self.xvfb.terminate()
        shutil.rmtree(self.profile, ignore_errors=True)


class Person:
    def __init__(
        self, desktop: Desktop, approaches: list[paths.Approach], rng: random.Random
    ) -> None:
        self.desktop = desktop
        self.approaches = approaches
        self.rng = rng
        self.audio_answered = 0

    # -- geometry
    @staticmethod
    def to_screen(layout: dict[str, Any], x: float, y: float) -> tuple[int, int]:
        sx, sy, dw, dh = layout["screen"]
        return round(sx + dw / 2 + x), round(sy + dh + y)

    def approach_script(
        self, layout: dict[str, Any], target: list[int], *, press: bool = True
    ) -> str:
        """xdotool lines: a recorded approach onto ``target`` (client coordinates), then a press
        held as long as the person held theirs."""
        approach = self.rng.choice(self.approaches)
        aim = (
            target[0] + self.rng.uniform(-0.2, 0.2) * target[2],
            target[1] + self.rng.uniform(-0.2, 0.2) * target[3],
        )
        steps = paths.place(approach, self.rng, aim, (layout["screen"][0] + 1280, 720))
        lines = []
        for dt, x, y in steps:
            if dt > 0:
                lines.append(f"sleep {dt / 1000:.3f}")
            lines.append("mousemove {} {}".format(*self.to_screen(layout, x, y)))
        if press:
            lines += [
                "sleep 0.04",
                "mousedown 1",
                f"sleep {min(0.15, approach.dwell_ms / 1000):.3f}",
                "mouseup 1",
            ]
        return "\n".join(lines) + "\n"

    def type_script(self, text: str) -> str:
        lines = []
        for ch in text:
            key = {"@": "at", ".": "period", " ": "space"}.get(ch, ch)
            lines += [
                f"keydown {key}",
                f"sleep {self.rng.uniform(0.05, 0.11):.3f}",
                f"keyup {key}",
                f"sleep {self.rng.uniform(0.05, 0.2):.3f}",
            ]
        return "\n".join(lines) + "\n"

    def key_script(self, *keys: str) -> str:
        lines = []
        for key in keys:
            lines += [
                f"keydown {key}",
                f"sleep {self.rng.uniform(0.06, 0.12):.3f}",
                f"keyup {key}",
                f"sleep {self.rng.uniform(0.15, 0.4):.3f}",
            ]
        return "\n".join(lines) + "\n"

    def email(self) -> str:
        return (
            "".join(self.rng.choice("abcdefghijklmnop") for _ in range(self.rng.randint(5, 9)))
            + "@example.com"
        )

    # -- one visit
    def visit(
        self, session: Session, url: str, kind: str, keyring: Any, max_tasks: int = 2
    ) -> dict[str, Any]:
        self.audio_answered = 0
        self.notes: list[str] = []
        self.desktop.open(url, "firefox" if kind == "firefox" else "chromium")
        if not session.wait(lambda: (session.layout() or {}).get("box"), 40):
            return {"outcome": "none", "final": None, "tasks": 0, "error": "page did not load"}
        time.sleep(self.rng.uniform(0.8, 1.6))  # reading the page
        layout = session.layout() or {}
        if kind in ("pointer", "firefox"):
            script = (
                self.approach_script(layout, layout["email"])
                + "sleep 0.3\n"
                + self.type_script(self.email())
            )
            script += f"sleep {self.rng.uniform(0.3, 0.9):.3f}\n" + self.approach_script(
                layout, layout["box"]
            )
        else:
            # Keyboard only (and audio people, who use the keyboard): the page has focus on load
            # (no click); Tab to the field, type, Tab, Space.
            script = (
                self.key_script("Tab")
                + self.type_script(self.email())
                + self.key_script("Tab", "space")
            )
        self.desktop.xdo(script)
        first = session.wait(session.outcome, 40)
        answered = 0
        while session.final() is None and answered < max_tasks + 1:
            if not session.wait(lambda: (session.layout() or {}).get("dialog"), 12):
                # A task waiting for the visitor's request (the checkbox says so): a person
                # ticks the checkbox again.
                layout = session.layout() or {}
                if session.final() is not None or not layout.get("box"):
                    break
                self.notes.append("ticked the checkbox again for the waiting task")
                self.desktop.xdo(
                    self.approach_script(layout, layout["box"])
                    if kind in ("pointer", "firefox")
                    else self.key_script("space")
                )
                if not session.wait(lambda: (session.layout() or {}).get("dialog"), 20):
                    break
            time.sleep(self.rng.uniform(1.0, 2.0))  # looking at the task
            self.answer(session, kind, keyring)
            answered += 1
            session.wait(lambda: session.final() or not (session.layout() or {}).get("dialog"), 30)
            time.sleep(0.5)
        session.wait(session.final, 20)
        return {
            "outcome": first or "none",
            "final": session.final(),
            "tasks": session.tasks_shown(),
            "answered": answered,
            "audio": self.audio_answered,
            **({"notes": self.notes} if self.notes else {}),
        }

    def answer(self, session: Session, kind: str, keyring: Any) -> None:
        from haechi.protocol.service import CHALLENGE_PURPOSE

        challenge = session.last_challenge()
        layout = session.layout() or {}
        if challenge is None or not challenge.get("task"):
            return
        opened = json.loads(keyring.open(CHALLENGE_PURPOSE, challenge["challenge"]))
        task = challenge["task"]
        if kind == "audio" and task.get("kind") != "audio" and not layout.get("alt"):
            self.notes.append(
                f"no audio alternative on a {task.get('type')} task "
                f"(alternatives {task.get('alternatives')}, layout alt {layout.get('alt')})"
            )
        if kind == "audio" and task.get("kind") != "audio" and layout.get("alt"):
            # An audio person takes the audio alternative of any visual task: Tab from the
            # task's first control past Close and New task to "Audio challenge instead".
            before = session.last_challenge()
            self.desktop.xdo(self.key_script("Tab", "Tab", "Tab", "Return"))
            if not session.wait(
                lambda: (
                    session.last_challenge() != before and (session.layout() or {}).get("input")
                ),
                20,
            ):
                self.notes.append("the audio alternative did not open")
                return
            time.sleep(self.rng.uniform(3.0, 5.0))  # listening
            self.answer(session, kind, keyring)
            return
        if task.get("kind") == "select":
            ids = [c["id"] for c in task["cells"]]
            wanted = [ids.index(i) for i in opened["ans"] if i in ids]
            if kind in ("pointer", "firefox"):
                script = "".join(
                    self.approach_script(layout, layout["cells"][i]) + "sleep 0.25\n"
                    for i in wanted
                )
                script += self.approach_script(layout, layout["verify"])
            else:
                keys: list[str] = []
                at = 0
                for i in sorted(wanted):
                    keys += ["Right"] * (i - at) + ["space"]
                    at = i
                keys += ["Tab"] * (4 if layout.get("alt") else 3) + ["Return"]
                script = self.key_script(*keys)
            self.desktop.xdo(script)
            return
        if task.get("kind") == "draw" and layout.get("alt"):
            # The audio alternative: a new (audio) challenge comes; answered on the next round.
            before = session.last_challenge()
            self.desktop.xdo(
                self.approach_script(layout, layout["alt"])
                if kind in ("pointer", "firefox")
                else self.key_script("Tab", "Tab", "Tab", "Return")
            )
            session.wait(
                lambda: (
                    session.last_challenge() != before and (session.layout() or {}).get("input")
                ),
                20,
            )
            time.sleep(self.rng.uniform(2.0, 3.0))  # listening
            self.answer(session, kind, keyring)
            return
        if task.get("kind") == "audio":
            digits = str(opened["ans"])
            self.audio_answered += 1
            layout = session.layout() or {}
            if kind in ("pointer", "firefox") and layout.get("input"):
                self.desktop.xdo(self.approach_script(layout, layout["input"]))
            else:
                # Tab from the player to the answer field, one stop at a time, as the focus
                # ring (or a screen reader) shows where it is.
                for _ in range(12):
                    if (session.layout() or {}).get("focus") == "ha":
                        break
                    self.desktop.xdo(self.key_script("Tab"))
                    time.sleep(0.25)
            self.desktop.xdo(self.type_script(digits) + self.key_script("Return"))
