"""Build the compiled hot path (``make compile``) or say what runs compiled now.

    python -m haechi.build_compiled          # mypyc: haechi.compiled.HOT_MODULES -> build/compiled
    python -m haechi.build_compiled status   # which hot modules this interpreter runs compiled
    python -m haechi.build_compiled auto     # `make serve`: start a background build if needed

Needs mypy (the dev extra) and a C compiler. See ``haechi.compiled`` for how the build is used.

``auto`` is how ``make serve`` gets the compiled hot path without waiting for it: when the build
is current it says so; when a C compiler is there and the build is missing or stale it starts
the build in the background (niced, mypy fetched into ``build/mypyc`` when the virtualenv has
none — ``make serve`` installs no extras) and returns at once, so the server starts interpreted
and the next ``make serve`` runs compiled; without a compiler it says what to install.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from haechi.compiled import (
    EXTENSION,
    HOT_MODULES,
    MANIFEST,
    PACKAGE_DIR,
    SOURCE_ROOT,
    build_dir,
    fresh_modules,
    loaded,
    package_sources,
    source_path,
)


def build(root: Path) -> None:
    """Compile ``HOT_MODULES`` with mypyc into ``root``: in a scratch copy of the package, so
    no extension module ever sits next to a source it could shadow."""
    with tempfile.TemporaryDirectory(prefix="haechi-mypyc-") as scratch:
        work = Path(scratch)
        shutil.copytree(
            PACKAGE_DIR, work / "haechi", ignore=shutil.ignore_patterns("__pycache__", "*.so")
        )
        # `make serve`'s virtualenv has no extras (redis, boto3, saq): modules importing them
        # are checked with those imports as Any. The hot modules never type against them.
        (work / "mypy.ini").write_text("[mypy]\nignore_missing_imports = True\n")
        files = [str(source_path(m).relative_to(SOURCE_ROOT)) for m in HOT_MODULES]
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "mypyc", *files],
            cwd=work,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:  # mypy's type errors or the C compiler's, in full
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"mypyc failed (exit {done.returncode})")
        libraries = list(work.glob(f"*__mypyc{EXTENSION}"))
        if len(libraries) != 1:
            raise RuntimeError(f"expected one mypyc runtime library, found {libraries}")
        # Into a sibling folder first, then swapped in: a server starting meanwhile sees the old
        # build or none (and runs the sources), never half of the new one.
        final, root = root, root.with_name(root.name + ".new")
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        shutil.copy2(libraries[0], root / libraries[0].name)
        for module in HOT_MODULES:
            relative = Path(*module.split(".")).with_suffix(EXTENSION)
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / relative, root / relative)
        manifest = {
            "python": sys.implementation.cache_tag,
            "runtime": libraries[0].name.removesuffix(EXTENSION),
            "modules": list(HOT_MODULES),
            "sources": package_sources(),
        }
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        root.rename(final)


# The mypy release the image compiles with (deploy/Containerfile's MYPY_VERSION).
MYPY_VERSION = "2.4.1"


def compiler() -> str | None:
    """The C compiler Python's build configuration names (or ``cc``), when it is installed."""
    configured = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(configured) or shutil.which("cc")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def auto(root: Path) -> int:
    """Say what ``haechi serve`` will run and, where it helps, start building the compiled hot
    path in the background (see the module's docstring)."""
    fresh, stale = fresh_modules(root)
    if fresh:
        print(f"hot path: compiled ({root} is current)")
        return 0
    if os.environ.get("HAECHI_COMPILED", "1") == "0":
        print("hot path: interpreted (HAECHI_COMPILED=0)")
        return 0
    if compiler() is None:
        print(
            "hot path: interpreted — no C compiler here; install one (e.g. `apt-get install gcc`) "
            "and `make serve` compiles the hot path in the background (about twice the throughput)"
        )
        return 0
    lock = root.with_name(root.name + ".building")
    log = root.with_name(root.name + ".log")
    with contextlib.suppress(OSError, ValueError):
        if _alive(int(lock.read_text())):
            print(
                f"hot path: interpreted for now; the compiled build is still running (log: {log})"
            )
            return 0
    root.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "haechi.build_compiled", "background"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    lock.write_text(str(proc.pid))
    why = "out of date with the sources" if stale else "not built yet"
    print(
        f"hot path: interpreted for now — the compiled build is {why}; building it in the "
        f"background (a few minutes, niced; log: {log}); the next `make serve` runs it"
    )
    return 0


def background(root: Path) -> int:
    """The build ``auto`` starts: mypy into ``build/mypyc`` when missing, then ``build``."""
    lock = root.with_name(root.name + ".building")
    with contextlib.suppress(OSError):
        os.nice(10)
    try:
        try:
            import mypyc  # noqa: F401
        except ImportError:
            target = root.with_name("mypyc")
            if not (target / "mypyc").is_dir():
                pip = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target)]
                subprocess.run([*pip, f"mypy=={MYPY_VERSION}"], check=True)  # noqa: S603
            path = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = str(target) + (os.pathsep + path if path else "")
        build(root)
        print(f"compiled {len(HOT_MODULES)} modules into {root}", flush=True)
        return 0
    finally:
        lock.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haechi.build_compiled", description=__doc__)
    parser.add_argument(
        "command", nargs="?", choices=["build", "status", "auto", "background"], default="build"
    )
    args = parser.parse_args(argv)
    root = build_dir()
    if args.command == "auto":
        return auto(root)
    if args.command == "background":
        return background(root)
    if args.command == "build":
        build(root)
        print(f"compiled {len(HOT_MODULES)} modules into {root}")
        return 0
    _, stale = fresh_modules(root)
    for module, compiled in loaded().items():
        print(f"{module:32} {'compiled' if compiled else 'interpreted'}")
    if stale:
        print(f"out of date (source changed since the build): {', '.join(stale)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
