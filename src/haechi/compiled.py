"""The edge's hot path compiled with mypyc, optional and never stale.

``make compile`` (``python -m haechi.build_compiled``) compiles ``HOT_MODULES`` with mypyc into
``build/compiled`` (or ``$HAECHI_COMPILED_DIR``) with a manifest of the SHA-256 of every source
file of the package. When ``haechi`` is imported, a finder serves those extension modules in
place of the sources, only while every source still has the hash it had at the build: after any
edit the sources run (with a warning), so a checkout never runs code it no longer has.
``HAECHI_COMPILED=0`` turns the compiled modules off. Without a build nothing changes: the
interpreted sources are the reference, and the test suite runs on both (``.ci/run``).

Why: the protocol's own Python (some twenty small functions per request, each 1-4 µs) is most of
a request's cost beyond the HTTP server's; mypyc removes the interpreter's dispatch from it
(measured in ``bench/RESULTS.md``).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import sysconfig
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# The modules every /v1/challenge, /v1/solve and /siteverify runs through that compile to the same
# behaviour (the unit and integration tests pass on the build: `make test-compiled`). Interpreted
# on purpose, each tried: the Redis store (redis-py is interpreted anyway) and the usage counters
# (compiled, the counter buffer failed a test of keeping counts over a cancelled final flush),
# scoring and the telemetry parser (they lean on Python's dynamic types: mypyc's checks of
# declared int/float types change what malformed telemetry does), and the challenge types' base
# module (a runtime-checkable Protocol, which mypyc does not compile). The risk engine compiles
# because the service names its scorer by a Protocol (``AsyncRiskScorer``): a compiled class in an
# annotation is checked at run time, and tests score with doubles. The memory store compiles, so
# tests that need a failing store wrap it (``tests/stores.py``): a compiled class takes no
# subclasses and no patched methods.
HOT_MODULES: tuple[str, ...] = (
    "haechi.core.asgi",
    "haechi.core.crypto",
    "haechi.core.metrics",
    "haechi.core.net",
    "haechi.core.randomness",
    "haechi.core.store.memory",
    "haechi.protocol.dialects",
    "haechi.protocol.iprules",
    "haechi.protocol.messages",
    "haechi.protocol.pow",
    "haechi.protocol.router",
    "haechi.protocol.service",
    "haechi.protocol.sites",
    "haechi.protocol.siteverify",
    "haechi.protocol.verdict",
    "haechi.risk.attack",
    "haechi.risk.engine",
    "haechi.risk.policy",
    "haechi.risk.signals",
)
MANIFEST = "manifest.json"
PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent  # src/ in a checkout
EXTENSION = sysconfig.get_config_var("EXT_SUFFIX") or ".so"


def build_dir() -> Path:
    configured = os.environ.get("HAECHI_COMPILED_DIR")
    return Path(configured) if configured else SOURCE_ROOT.parent / "build" / "compiled"


def source_path(module: str) -> Path:
    return SOURCE_ROOT.joinpath(*module.split(".")).with_suffix(".py")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_sources() -> dict[str, str]:
    """Every source file of the package (relative path -> SHA-256). A build is compared with
    all of them, not only the modules it compiled: mypyc may build in what a compiled module
    knows of the ones it imports (constants, class layouts)."""
    return {
        str(path.relative_to(SOURCE_ROOT)): digest(path)
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    }


class CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules named in a manifest; everything else falls through."""

    def __init__(self, modules: dict[str, Path]) -> None:
        self.modules = modules

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        found = self.modules.get(fullname)
        if found is None:
            return None
        return importlib.util.spec_from_file_location(fullname, found)


def fresh_modules(root: Path) -> tuple[dict[str, Path], list[str]]:
    """The compiled modules under ``root`` when no source of the package has changed since the
    build, and the changed sources. A build is used whole or not at all: mypyc links its modules
    into one library, and a compiled module imports its neighbours from there."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}, []
    modules: list[str] = manifest.get("modules", [])
    built: dict[str, str] = manifest.get("sources", {})
    if manifest.get("python") != sys.implementation.cache_tag:
        return {}, [f"(built for {manifest.get('python')})"]
    now = package_sources()
    stale = sorted(name for name in built.keys() | now.keys() if built.get(name) != now.get(name))
    runtime = manifest.get("runtime")
    library = root / f"{runtime}{EXTENSION}"
    fresh = {m: root.joinpath(*m.split(".")).with_suffix(EXTENSION) for m in modules}
    missing = [str(path) for path in [library, *fresh.values()] if not path.is_file()]
    if stale or missing or not runtime:
        return {}, stale or missing or ["(no runtime library)"]
    # The build's shared library, imported by its top-level name.
    fresh[runtime] = library
    return fresh, []


def install() -> CompiledFinder | None:
    """Put the fresh compiled modules ahead of the sources (``haechi/__init__`` calls this)."""
    if os.environ.get("HAECHI_COMPILED", "1") == "0":
        return None
    for finder in sys.meta_path:
        if isinstance(finder, CompiledFinder):
            return finder
    root = build_dir()
    fresh, stale = fresh_modules(root)
    if stale:
        warnings.warn(
            f"the compiled hot path is out of date with its sources; running the sources "
            f"(changed since the build: "
            f"{', '.join(stale)}; run `make compile` again, or set HAECHI_COMPILED=0)",
            RuntimeWarning,
            stacklevel=2,
        )
    if not fresh:
        return None
    finder = CompiledFinder(fresh)
    sys.meta_path.insert(0, finder)
    return finder


def active() -> bool:
    """Whether this process serves a compiled build (``install`` found a fresh one)."""
    return any(isinstance(finder, CompiledFinder) for finder in sys.meta_path)


def loaded() -> dict[str, bool]:
    """Whether each hot module (imported now) runs compiled."""
    out = {}
    for module in HOT_MODULES:
        imported = importlib.import_module(module)
        out[module] = str(getattr(imported, "__file__", "")).endswith(EXTENSION)
    return out
