"""Sealing, signing and secret digests.

Everything a browser carries between requests — a challenge, a response token — is sealed with
AES-256-GCM-SIV under a key from a shared keyring, so it is both authenticated (tampering is
detected) and confidential (a challenge's answer and a token's score never reach the browser in
clear).

Each sealed value reads ``v1.<kid>.<base64url(nonce || ciphertext || tag)>``. The key id selects
the ring entry; a per-purpose subkey is derived with HKDF so a challenge can never be replayed as
a token, and the purpose and key id are bound as associated data. GCM-SIV tolerates random nonce
collisions (plain GCM would need a key change every 2**32 seals, days at full load). Callers pad
plaintexts to a fixed size, because a ciphertext's length is its plaintext's length: a sealed
answer must not tell how many cells are correct. Rotation without downtime: add a new key to
every replica's ring, then make it active; old ids keep opening until dropped.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from haechi.core.randomness import random_bytes

SEAL_VERSION = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
MIN_KEY_BYTES = 32


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Strict base64url without padding; raises ValueError on anything else."""
    if not text or len(text) % 4 == 1:
        raise ValueError("bad base64url length")
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("bad base64url") from error


class SealError(Exception):
    """A sealed value did not open. ``kind`` is "malformed", "unknown-key" or "bad-tag"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    aead: AESGCMSIV
    aad: bytes


class Keyring:
    """Key ids mapped to raw keys; one is active. Subkeys are derived per purpose."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"active key id {active!r} is not in the keyring")
        for kid, raw in keys.items():
            if len(raw) < MIN_KEY_BYTES:
                raise ValueError(f"key {kid!r} is shorter than {MIN_KEY_BYTES} bytes")
            if not kid or "." in kid or len(kid) > 16:
                raise ValueError(f"key id {kid!r} must be 1-16 characters without '.'")
        self._raw = dict(keys)
        self.active = active
        self._cache: dict[tuple[str, str], _Key] = {}

    @classmethod
    def from_settings(cls, keyring: dict[str, str], active: str) -> Keyring:
        return cls({kid: b64d(value) for kid, value in keyring.items()}, active)

    def _key(self, purpose: str, kid: str) -> _Key | None:
        cached = self._cache.get((purpose, kid))
        if cached is not None:
            return cached
        raw = self._raw.get(kid)
        if raw is None:
            return None
        sub = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"haechi/" + purpose.encode()
        ).derive(raw)
        key = _Key(kid, AESGCMSIV(sub), f"{SEAL_VERSION}|{purpose}|{kid}".encode())
        self._cache[(purpose, kid)] = key
        return key

    def seal(self, purpose: str, plaintext: bytes, *, pad_to: int = 0) -> str:
        """Seal ``plaintext``; with ``pad_to``, pad it with spaces to a multiple of that many
        bytes first (JSON ignores trailing whitespace), hiding its exact length."""
        key = self._key(purpose, self.active)
        assert key is not None
        if pad_to:
            plaintext += b" " * (-len(plaintext) % pad_to)
        nonce = random_bytes(_NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, plaintext, key.aad)
        return f"{SEAL_VERSION}.{key.kid}.{b64e(nonce + sealed)}"

    def mac_key(self, purpose: str, kid: str | None = None) -> bytes | None:
        """A 32-byte MAC subkey for ``purpose`` under ``kid`` (default: the active id), for
        values that are signed but not sealed (blob URLs); None for an unknown id. Derived in
        a domain of its own, so it never equals a sealing subkey."""
        raw = self._raw.get(self.active if kid is None else kid)
        if raw is None:
            return None
        info = b"haechi/mac/" + purpose.encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)

    def open(self, purpose: str, text: str) -> bytes:
        parts = text.split(".")
        if len(parts) != 3 or parts[0] != SEAL_VERSION:
            raise SealError("malformed")
        key = self._key(purpose, parts[1])
        if key is None:
            raise SealError("unknown-key")
        try:
            blob = b64d(parts[2])
        except ValueError:
            raise SealError("malformed") from None
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise SealError("malformed")
        try:
            return key.aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], key.aad)
        except InvalidTag:
            raise SealError("bad-tag") from None


def secret_digest(pepper: bytes, secret: str) -> str:
    """Keyed digest under which a site secret is stored: fast to look up, never recoverable."""
    return hmac.digest(pepper, secret.encode("utf-8"), "sha256").hex()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode("utf-8")
    if isinstance(b, str):
        b = b.encode("utf-8")
    return hmac.compare_digest(a, b)


def new_key() -> str:
    return b64e(secrets.token_bytes(32))


def load_or_create_dev_keys(data_dir: Path) -> dict[str, object]:
    """Development keys kept in ``data_dir/keys.json`` (mode 0600) so restarts keep them."""
    path = data_dir / "keys.json"
    if path.exists():
        loaded: dict[str, object] = json.loads(path.read_text())
        return loaded
    data_dir.mkdir(parents=True, exist_ok=True)
    keys: dict[str, object] = {
        "keyring": {"k1": new_key()},
        "active": "k1",
        "secret_pepper": new_key(),
    }
    write_private(path, json.dumps(keys, indent=2))
    return keys


def write_private(path: Path, text: str) -> None:
    """Write a file readable only by its owner, created with that mode (no window)."""
    write_private_bytes(path, text.encode("utf-8"))


def write_private_bytes(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)
