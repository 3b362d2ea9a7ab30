"""Licence and third-party notice checks (CI).

    python deploy/notices.py check [--strict]      # LICENSE is Apache-2.0; declared licences agree;
                                                   # bundled npm packages: permissive, noticed
    python deploy/notices.py check-image ROOTFS [--strict]  # the Python distributions in an
                                                   # image: permissive, listed in the notices

A shipped package under a licence outside ``PERMISSIVE`` fails; one missing from
THIRD_PARTY_NOTICES.md is a warning, an error with ``--strict``.
    python deploy/notices.py table ROOTFS          # print that list as a Markdown table
    python deploy/notices.py table-npm             # the bundled npm packages as a Markdown table

``ROOTFS`` is an image's exported root filesystem (deploy/image/smoke.sh exports one). The
distributions are read from their ``*.dist-info/METADATA`` files, nothing is imported or run.
Standard library only: it runs before any virtualenv exists.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTICES = ROOT / "THIRD_PARTY_NOTICES.md"
# SHA-256 of the Apache License 2.0 text as the ASF publishes it (LICENSE-2.0.txt), with
# surrounding whitespace removed.
APACHE_2_SHA256 = "283ea6cc2997a1a70da0049e09adf9317bb60ca1b51279b65196b83a69e1996b"
SECTION = "## Python packages in the container image"
WARNINGS: list[str] = []
VENV_GLOB = "opt/haechi/venv/lib/python3*/site-packages/*.dist-info"
# Licences that may ship inside Haechi's Apache-2.0 package and image. A shipped package under
# anything else fails the check; one that is merely missing from THIRD_PARTY_NOTICES.md is a
# warning (fail with --strict), so that adding a dependency never blocks everyone's CI before
# its row is written.
PERMISSIVE = re.compile(
    r"MIT|BSD|Apache|ISC|PSF|Python Software Foundation|MPL|Mozilla Public License|Unlicense|"
    r"0BSD|CC0|Zlib|OFL|HPND|MIT-CMU|Public Domain",
    re.I,
)
# Distributions whose metadata names no licence: what their own repositories say.
KNOWN_LICENCES = {"dumb-init": "MIT"}
# Weak-copyleft distributions allowed by name, each with the reason (never a whole licence).
# LGPL-3.0 lets an Apache-2.0 program use an unmodified library that stays a separate,
# replaceable package; a Python distribution ships its source, which the LGPL asks for.
ALLOWED_BY_NAME = {
    "fpdf2": "LGPL-3.0-only: invoices as PDF; unmodified, imported as its own package, "
    "source and licence text in its dist-info",
}


def _normalise(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _licence_text_digest(path: Path) -> str:
    return hashlib.sha256(path.read_text(encoding="utf-8").strip().encode()).hexdigest()


def check() -> list[str]:
    problems: list[str] = []
    licence = ROOT / "LICENSE"
    if not licence.is_file():
        problems.append("LICENSE is missing")
    elif _licence_text_digest(licence) != APACHE_2_SHA256:
        problems.append("LICENSE is not the Apache License 2.0 text")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("license")
    if declared != "Apache-2.0":
        problems.append(f"pyproject.toml declares licence {declared!r}, not 'Apache-2.0'")
    for package_json in [ROOT / "widget" / "package.json", ROOT / "dashboard" / "package.json"]:
        if package_json.is_file():
            found = json.loads(package_json.read_text()).get("license")
            if found != "Apache-2.0":
                problems.append(f"{package_json.relative_to(ROOT)} declares licence {found!r}")
    if not NOTICES.is_file():
        return [*problems, "THIRD_PARTY_NOTICES.md is missing"]
    noticed = NOTICES.read_text(encoding="utf-8").lower()
    # npm packages that end up inside a shipped bundle: the lockfiles' non-dev packages.
    for bundle, name, version, licence in bundled_npm():
        if not PERMISSIVE.search(licence or ""):
            problems.append(f"{bundle} bundles {name} {version} under {licence or 'no licence'}")
        if f"| {bundle} | {name} |".lower() not in noticed:
            WARNINGS.append(
                f"{bundle}/package-lock.json: the bundled npm package {name} {version} is not in "
                "THIRD_PARTY_NOTICES.md (python deploy/notices.py table-npm prints the table)"
            )
    return problems


def bundled_npm() -> list[tuple[str, str, str, str]]:
    """(bundle, name, version, licence) of each npm package a shipped bundle includes."""
    found = []
    for folder in ("widget", "dashboard"):
        lock = ROOT / folder / "package-lock.json"
        if not lock.is_file():
            continue
        for where, meta in json.loads(lock.read_text()).get("packages", {}).items():
            if where and not meta.get("dev") and not meta.get("devOptional"):
                name = where.rsplit("node_modules/", 1)[-1]
                found.append((folder, name, meta.get("version", ""), meta.get("license", "")))
    return sorted(found)


def table_npm() -> str:
    rows = ["| bundle | package | version | licence |", "|---|---|---|---|"]
    rows += [f"| {b} | {n} | {v} | {lic} |" for b, n, v, lic in bundled_npm()]
    return "\n".join(rows)


def image_distributions(rootfs: Path) -> dict[str, tuple[str, str, str]]:
    """normalised name -> (name, version, licence) for each distribution in the image's venv."""
    found: dict[str, tuple[str, str, str]] = {}
    for info in sorted(rootfs.glob(VENV_GLOB)):
        metadata = info / "METADATA"
        if not metadata.is_file():
            continue
        message = email.parser.Parser().parsestr(
            metadata.read_text(encoding="utf-8", errors="replace")
        )
        name, version = message.get("Name", info.name), message.get("Version", "")
        licence = message.get("License-Expression") or ""
        if not licence:
            classifiers = [
                c.split("::")[-1].strip()
                for c in message.get_all("Classifier") or []
                if c.startswith("License ::") and "OSI Approved" in c and c.count("::") > 1
            ]
            short = (message.get("License") or "").strip().splitlines()
            licence = "; ".join(classifiers) or (short[0][:60] if short else "")
        if licence.upper() == "UNKNOWN":
            licence = ""
        licence = KNOWN_LICENCES.get(_normalise(name)) or licence
        found[_normalise(name)] = (name, version, licence or "see the package's metadata")
    return found


def check_image(rootfs: Path) -> list[str]:
    dists = image_distributions(rootfs)
    if not dists:
        return [f"no Python distributions under {rootfs}/{VENV_GLOB}"]
    if not NOTICES.is_file():
        return ["THIRD_PARTY_NOTICES.md is missing"]
    text = NOTICES.read_text(encoding="utf-8")
    if SECTION not in text:
        return [f"THIRD_PARTY_NOTICES.md has no section {SECTION!r}"]
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    listed = {_normalise(m) for m in re.findall(r"^\|\s*([A-Za-z0-9_.\-]+)\s*\|", section, re.M)}
    WARNINGS.extend(
        f"the image ships {name} {version} ({licence}); THIRD_PARTY_NOTICES.md does not list it "
        "(python deploy/notices.py table ROOTFS prints the table)"
        for key, (name, version, licence) in sorted(dists.items())
        if key not in listed and key != "haechi"
    )
    return [
        f"the image ships {name} {version} under {licence}, not a licence on the allow-list"
        for key, (name, version, licence) in sorted(dists.items())
        if key != "haechi" and not PERMISSIVE.search(licence) and key not in ALLOWED_BY_NAME
    ]


def table(rootfs: Path) -> str:
    rows = ["| package | version | licence |", "|---|---|---|"]
    for key, (name, version, licence) in sorted(image_distributions(rootfs).items()):
        if key != "haechi":
            rows.append(f"| {name} | {version} | {licence.replace('|', '/')} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"check", "check-image", "table", "table-npm"}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "table":
        print(table(Path(argv[1])))
        return 0
    if argv[0] == "table-npm":
        print(table_npm())
        return 0
    problems = check() if argv[0] == "check" else check_image(Path(argv[1]))
    if "--strict" in argv:
        problems += WARNINGS
    else:
        for warning in WARNINGS:
            print(f"notices: WARNING: {warning}", file=sys.stderr)
    for problem in problems:
        print(f"notices: {problem}", file=sys.stderr)
    if not problems:
        print("notices: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
