"""`python -m haechi.build_compiled auto` (what `make serve` runs before serving): it never
blocks the start, says what will run, and starts at most one background build."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from haechi import build_compiled


def test_without_a_compiler_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(build_compiled, "compiler", lambda: None)
    assert build_compiled.auto(tmp_path / "compiled") == 0
    out = capsys.readouterr().out
    assert "no C compiler" in out and "gcc" in out
    assert not (tmp_path / "compiled.building").exists()


def test_it_starts_one_background_build_and_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[list[str]] = []

    class FakePopen:
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            started.append(args)
            assert kwargs["start_new_session"] is True  # outlives `make serve`'s own process
            self.pid = os.getpid()  # alive: a second `auto` must see the build running

    monkeypatch.setattr(build_compiled, "compiler", lambda: "/usr/bin/cc")
    monkeypatch.setattr(build_compiled.subprocess, "Popen", FakePopen)
    monkeypatch.delenv("HAECHI_COMPILED", raising=False)
    root = tmp_path / "compiled"
    assert build_compiled.auto(root) == 0
    assert started == [[sys.executable, "-m", "haechi.build_compiled", "background"]]
    assert "building it in the background" in capsys.readouterr().out
    assert (tmp_path / "compiled.building").read_text() == str(os.getpid())

    assert build_compiled.auto(root) == 0  # the first build is still running: no second one
    assert len(started) == 1
    assert "still running" in capsys.readouterr().out


def test_a_dead_builds_lock_does_not_block_a_new_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []

    class FakePopen:
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            started.append(args)
            self.pid = 1

    (tmp_path / "compiled.building").write_text("999999999")  # no such process
    monkeypatch.setattr(build_compiled, "compiler", lambda: "/usr/bin/cc")
    monkeypatch.setattr(build_compiled.subprocess, "Popen", FakePopen)
    monkeypatch.delenv("HAECHI_COMPILED", raising=False)
    build_compiled.auto(tmp_path / "compiled")
    assert len(started) == 1


def test_switched_off_it_builds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAECHI_COMPILED", "0")
    monkeypatch.setattr(build_compiled, "compiler", lambda: "/usr/bin/cc")
    assert build_compiled.auto(tmp_path / "compiled") == 0
    assert "HAECHI_COMPILED=0" in capsys.readouterr().out
    assert not (tmp_path / "compiled.building").exists()
