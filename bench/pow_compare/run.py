"""Memory-hard proof-of-work against SHA-256: how much faster a native solver is than the
browser (issue 17, item 5). A measurement with a prototype, not a product code path.

    .venv/bin/python bench/pow_compare/run.py [--seconds 3]

For each function it times, one after the other in one run (so both sides share the load):

- native: SHA-256 on 64-byte messages in OpenSSL (``openssl speed``: a farm's solver on one
  core, no SIMD across nonces, no GPU), Python's reference solver (``haechi.protocol.pow``), and
  scrypt (N, r=8, p=1) through ``hashlib.scrypt`` (OpenSSL);
- browser: headless Chromium, the widget's own ``PowSearch`` (sha256-lzb, as the worker runs
  it) and ``scrypt.js`` (scrypt's ROMix in plain JavaScript, checked against hashlib.scrypt).

The server's cost to verify one memory-hard proof is one evaluation: the native scrypt time.
Prints a JSON object; ratios are native ÷ browser rates.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCRYPT = [(256, 8), (512, 8), (1024, 8)]


def openssl_sha256(seconds: int) -> float:
    command = ["openssl", "speed", "-seconds", str(seconds), "-bytes", "64", "sha256"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(row for row in out.splitlines() if row.startswith("sha256"))
    kbytes = float(re.split(r"\s+", line.strip())[-1].rstrip("k"))
    return kbytes * 1000 / 64


def python_sha256(seconds: float) -> float:
    base = hashlib.sha256(b"hpow1:abcdefghijklmnopqrstuv:0:")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for nonce in range(n, n + 10_000):
            h = base.copy()
            h.update(str(nonce).encode("ascii"))
            h.digest()
        n += 10_000
    return n / (time.perf_counter() - start)


def native_scrypt(n: int, r: int, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        hashlib.scrypt(b"hpow1:abc:0:%d" % count, salt=b"haechi", n=n, r=r, p=1, dklen=32)
        count += 1
    return count / (time.perf_counter() - start)


def bundle_sha() -> str:
    esbuild = ROOT / "widget" / "node_modules" / ".bin" / "esbuild"
    entry = HERE / "_entry.ts"
    entry.write_text(f'export {{ PowSearch }} from "{ROOT / "widget" / "src" / "pow.ts"}";\n')
    try:
        out = subprocess.run(  # noqa: S603
            [str(esbuild), str(entry), "--bundle", "--format=iife", "--global-name=W"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        entry.unlink()
    return out


async def browser(seconds: float) -> dict[str, float]:
    from playwright.async_api import async_playwright

    sha = bundle_sha()
    scrypt = (HERE / "scrypt.js").read_text()
    ms = int(seconds * 1000)
    out: dict[str, float] = {}
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = await chromium.new_page()
        await page.set_content("<!doctype html><title>pow</title>")
        await page.add_script_tag(content=sha + "\n" + scrypt)
        out["sha256_hashes_per_s"] = await page.evaluate(
            f"""() => {{
              const s = new W.PowSearch("hpow1:abcdefghijklmnopqrstuv:", 30, 1);
              const t0 = performance.now();
              while (performance.now() - t0 < {ms}) s.step(25000);
              return s.hashes / ((performance.now() - t0) / 1000);
            }}"""
        )
        for n, r in SCRYPT:
            out[f"scrypt_n{n}_r{r}_per_s"] = await page.evaluate(f"bench({n}, {r}, {ms})")
        await chromium.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    native: dict[str, float] = {
        "sha256_openssl_per_s": openssl_sha256(max(1, round(args.seconds))),
        "sha256_python_per_s": python_sha256(args.seconds),
    }
    for n, r in SCRYPT:
        native[f"scrypt_n{n}_r{r}_per_s"] = native_scrypt(n, r, args.seconds)
    web = asyncio.run(browser(args.seconds))
    ratios = {
        "sha256 (openssl / widget)": native["sha256_openssl_per_s"] / web["sha256_hashes_per_s"]
    }
    for n, r in SCRYPT:
        key = f"scrypt_n{n}_r{r}_per_s"
        ratios[f"scrypt N={n} r={r} (openssl / js)"] = native[key] / web[key]
    verify = {f"scrypt N={n} r={r} ms": 1000 / native[f"scrypt_n{n}_r{r}_per_s"] for n, r in SCRYPT}
    report = {"native": native, "browser": web, "ratio": ratios, "verify_ms": verify}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
