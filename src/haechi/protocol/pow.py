"""Proof-of-work: SHA-256 over a canonical, delimited encoding.

A challenge asks for ``count`` independent puzzles of ``bits`` leading zero bits. Puzzle ``i`` is
solved by a non-negative integer ``nonce`` such that

    SHA-256( "hpow1:" + <challenge id> + ":" + <i> + ":" + <nonce in decimal> )

starts with ``bits`` zero bits (read big-endian). The challenge id is base64url (no ":"), ``i`` and
the nonce are plain decimal without sign or leading zeros, so the encoding is unambiguous. The
expected work is ``count * 2**bits`` hashes; splitting it into several puzzles keeps the variance
(and the slowest visitors' wait) low: the standard deviation of the total is ``sqrt(count) *
2**bits`` instead of ``count * 2**bits`` for one puzzle of the same expected work.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

ALGORITHM = "sha256-lzb"
PREFIX = "hpow1"
MAX_NONCE = 2**53 - 1  # safe integers in JavaScript


@dataclass(frozen=True, slots=True)
class PowParams:
    challenge_id: str
    bits: int
    count: int

    @property
    def prefix(self) -> str:
        return f"{PREFIX}:{self.challenge_id}:"

    def public(self) -> dict[str, object]:
        return {
            "algorithm": ALGORITHM,
            "prefix": self.prefix,
            "bits": self.bits,
            "count": self.count,
        }

    @property
    def expected_hashes(self) -> int:
        return self.count * (1 << self.bits) if self.count else 0


def _meets(digest: bytes, bits: int) -> bool:
    return bits == 0 or int.from_bytes(digest, "big") >> (256 - bits) == 0


def check(params: PowParams, nonces: object) -> bool:
    """True when ``nonces`` is a list of ``count`` valid nonces, one per puzzle."""
    if not isinstance(nonces, list) or len(nonces) != params.count:
        return False
    prefix = params.prefix.encode("ascii")
    for i, nonce in enumerate(nonces):
        if type(nonce) is not int or not 0 <= nonce <= MAX_NONCE:
            return False
        digest = hashlib.sha256(prefix + f"{i}:{nonce}".encode("ascii")).digest()
        if not _meets(digest, params.bits):
            return False
    return True


def solve(params: PowParams) -> list[int]:
    """Reference solver (CLI, tests, SDK). Browsers use the widget's worker."""
    nonces: list[int] = []
    for i in range(params.count):
        base = hashlib.sha256(params.prefix.encode("ascii") + f"{i}:".encode("ascii"))
        nonce = 0
        while True:
            h = base.copy()
            h.update(str(nonce).encode("ascii"))
            if _meets(h.digest(), params.bits):
                nonces.append(nonce)
                break
            nonce += 1
    return nonces
