"""Passwords: Argon2id hashes (rehashed on sign-in when the parameters change) and the rules a
new password must meet: at least 10 characters, not among the most common passwords (the list
in ``data/``, MIT, see its LICENSE file)."""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256


class _Profile:
    """The process's Argon2id parameters (``platform.argon2_*``; one policy per process).
    Defaults: argon2-cffi's RFC 9106 low-memory profile, t=3, m=64 MiB, p=4."""

    def __init__(self) -> None:
        self.configure(time_cost=3, memory_kib=65536, parallelism=4)

    def configure(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        # Verified against when the account does not exist, so that an unknown e-mail costs
        # the same time as a wrong password (no account enumeration by timing).
        self.dummy = self.hasher.hash("haechi-dummy-password-for-constant-time")


PROFILE = _Profile()


def configure(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    if (time_cost, memory_kib, parallelism) != (
        PROFILE.hasher.time_cost,
        PROFILE.hasher.memory_cost,
        PROFILE.hasher.parallelism,
    ):
        PROFILE.configure(time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("haechi.platform.accounts") / "data" / "common-passwords.txt.gz"
    text = gzip.decompress(data.read_bytes()).decode("utf-8")
    return frozenset(line for line in text.splitlines() if line)


def problems(password: str) -> str | None:
    """Why ``password`` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"use at most {MAX_LENGTH} characters"
    if password.lower() in common_passwords():
        return "this password is among the most common ones; choose another"
    return None


def hash_password(password: str) -> str:
    return PROFILE.hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Constant work whether or not there is a stored hash."""
    try:
        return PROFILE.hasher.verify(stored or PROFILE.dummy, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return PROFILE.hasher.check_needs_rehash(stored)
