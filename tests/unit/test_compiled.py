"""The compiled hot path is used whole, only while every source matches its build."""

from __future__ import annotations

import importlib.machinery
import json
import os
import sys
from pathlib import Path

import pytest

from haechi import build_compiled, compiled

RUNTIME = "abc123__mypyc"


def fake_build(root: Path, sources: dict[str, str] | None = None, **manifest: object) -> None:
    """A build's layout and manifest, with empty files where the extensions would be."""
    for module in compiled.HOT_MODULES:
        path = root.joinpath(*module.split(".")).with_suffix(compiled.EXTENSION)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    (root / f"{RUNTIME}{compiled.EXTENSION}").write_bytes(b"")
    body = {
        "python": sys.implementation.cache_tag,
        "runtime": RUNTIME,
        "modules": list(compiled.HOT_MODULES),
        "sources": compiled.package_sources() if sources is None else sources,
        **manifest,
    }
    (root / compiled.MANIFEST).write_text(json.dumps(body))


def test_no_build_means_nothing_compiled(tmp_path: Path) -> None:
    assert compiled.fresh_modules(tmp_path) == ({}, [])


def test_a_fresh_build_serves_every_hot_module_and_its_library(tmp_path: Path) -> None:
    fake_build(tmp_path)
    fresh, stale = compiled.fresh_modules(tmp_path)
    assert stale == []
    assert set(fresh) == {*compiled.HOT_MODULES, RUNTIME}
    assert fresh["haechi.protocol.service"] == tmp_path / "haechi" / "protocol" / (
        "service" + compiled.EXTENSION
    )


def test_one_changed_source_anywhere_turns_the_whole_build_off(tmp_path: Path) -> None:
    sources = compiled.package_sources()
    # Not a compiled module: what a compiled one imports can be built into it.
    sources["haechi/protocol/sites.py"] = "0" * 64
    fake_build(tmp_path, sources)
    assert compiled.fresh_modules(tmp_path) == ({}, ["haechi/protocol/sites.py"])


def test_a_source_added_since_the_build_counts_as_a_change(tmp_path: Path) -> None:
    sources = compiled.package_sources()
    del sources["haechi/core/net.py"]  # as if net.py were new since the build
    fake_build(tmp_path, sources)
    assert compiled.fresh_modules(tmp_path) == ({}, ["haechi/core/net.py"])


def test_a_build_for_another_python_is_not_used(tmp_path: Path) -> None:
    fake_build(tmp_path, python="cpython-39")
    fresh, stale = compiled.fresh_modules(tmp_path)
    assert fresh == {}
    assert stale == ["(built for cpython-39)"]


def test_a_missing_extension_turns_the_build_off(tmp_path: Path) -> None:
    fake_build(tmp_path)
    missing = tmp_path / "haechi" / "core" / ("asgi" + compiled.EXTENSION)
    missing.unlink()
    assert compiled.fresh_modules(tmp_path) == ({}, [str(missing)])


def test_the_finder_answers_only_for_its_modules(tmp_path: Path) -> None:
    so = tmp_path / ("pow" + compiled.EXTENSION)
    finder = compiled.CompiledFinder({"haechi.protocol.pow": so})
    spec = finder.find_spec("haechi.protocol.pow", None)
    assert spec is not None
    assert spec.origin == str(so)
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert finder.find_spec("haechi.protocol.sites", None) is None


@pytest.fixture
def clean_meta_path(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    path = [f for f in sys.meta_path if not isinstance(f, compiled.CompiledFinder)]
    monkeypatch.setattr(sys, "meta_path", path)
    return path


def test_install_warns_and_stays_out_when_the_build_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_meta_path: list[object]
) -> None:
    sources = compiled.package_sources()
    sources["haechi/protocol/router.py"] = "0" * 64
    fake_build(tmp_path, sources)
    monkeypatch.setenv("HAECHI_COMPILED_DIR", str(tmp_path))
    monkeypatch.delenv("HAECHI_COMPILED", raising=False)
    with pytest.warns(RuntimeWarning, match=r"out of date.*haechi/protocol/router\.py"):
        assert compiled.install() is None
    assert not compiled.active()


def test_install_puts_a_fresh_build_first_unless_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_meta_path: list[object]
) -> None:
    fake_build(tmp_path)
    monkeypatch.setenv("HAECHI_COMPILED_DIR", str(tmp_path))
    monkeypatch.setenv("HAECHI_COMPILED", "0")
    assert compiled.install() is None
    monkeypatch.delenv("HAECHI_COMPILED")
    finder = compiled.install()
    assert finder is not None and sys.meta_path[0] is finder
    assert compiled.active()
    assert compiled.install() is finder  # once per process


def test_status_names_every_hot_module_and_a_stale_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = compiled.package_sources()
    sources["haechi/protocol/pow.py"] = "0" * 64
    fake_build(tmp_path, sources)
    monkeypatch.setenv("HAECHI_COMPILED_DIR", str(tmp_path))
    assert build_compiled.main(["status"]) == 0
    out = capsys.readouterr().out.splitlines()
    state = "compiled" if compiled.active() else "interpreted"
    assert [line.split() for line in out[:-1]] == [[m, state] for m in compiled.HOT_MODULES]
    assert out[-1] == "out of date (source changed since the build): haechi/protocol/pow.py"


@pytest.mark.skipif(
    os.environ.get("HAECHI_EXPECT_COMPILED") != "1",
    reason="runs under `make test-compiled`, where the build must be in use",
)
def test_the_compiled_run_really_runs_compiled_code() -> None:
    assert compiled.active()
    assert compiled.loaded() == dict.fromkeys(compiled.HOT_MODULES, True)
