"""Build the compiled hot path (``make compile``) or say what runs compiled now.

    python -m haechi.build_compiled          # mypyc: haechi.compiled.HOT_MODULES -> build/compiled
    python -m haechi.build_compiled status   # which hot modules this interpreter runs compiled

Needs mypy (the dev extra) and a C compiler. See ``haechi.compiled`` for how the build is used.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haechi.build_compiled", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["build", "status"], default="build")
    args = parser.parse_args(argv)
    root = build_dir()
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
