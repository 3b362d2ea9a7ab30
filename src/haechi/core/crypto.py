"""Sealing, signing and secret digests.

Everything a browser carries between requests — a challenge, a response token — is sealed with
AES-256-GCM under a key from a shared keyring, so it is both authenticated (tampering is
detected) and confidential (a challenge's answer and a token's score never reach the browser in
clear).

Each sealed value reads ``v2.<kid>.<base64url(hour || nonce || ciphertext || tag)>``. The key id
selects the ring entry; a subkey is derived with HKDF for the purpose and the hour (unix time //
3600, four bytes) it was sealed in, so a challenge can never be replayed as a token, and the
purpose, key id and hour are bound as associated data. Nonces are random (96 bits): GCM stays
safe while one key seals fewer than 2**32 values, and a key that lives one hour seals 2**32
only at 1.2 million a second. (Until v2, values were sealed with AES-256-GCM-SIV under one
subkey per purpose, which tolerates repeated nonces at three times GCM's CPU cost; ``v1``
values still open, for the minutes they live across an upgrade.) Callers pad what must not
show through a ciphertext's length, which is its plaintext's: a sealed answer must not tell how
many cells are correct. Rotation without downtime: add a new key to every replica's ring, then
make it active; old ids keep opening until dropped.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from haechi.core.files import private_dir
from haechi.core.randomness import random_bytes

SEAL_VERSION = "v2"
_V1 = "v1"  # AES-256-GCM-SIV, one subkey per purpose: still opened, no longer sealed
EPOCH_SECONDS = 3600
_EPOCH_BYTES = 4
_EPOCHS_OPEN = 24  # a value sealed up to this many hours ago still opens
_MAX_CACHED_KEYS = 256
_NONCE_BYTES = 12
_TAG_BYTES = 16
MIN_KEY_BYTES = 32


# binascii directly: ``base64``'s url-safe wrappers cost twice as much, and every challenge, solve
# and siteverify encodes or decodes one sealed value.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
# "+" and "/" are not base64url: they become "!", which the strict decoder refuses.
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/!!")


def b64e(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


# The last character of a length that is not a multiple of 4 carries bits past the data; only
# the spelling with those bits zero is accepted, so a value has one text (a changed last
# character never decodes to the same bytes).
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def b64d(text: str) -> bytes:
    """Strict, canonical base64url without padding; raises ValueError on anything else."""
    if not text or len(text) % 4 == 1:
        raise ValueError("bad base64url length")
    data = text.rstrip("=")  # padding is not needed, but tolerated where it is right
    last = _CANONICAL_LAST.get(len(data) % 4)
    if last is not None and data[-1] not in last:
        raise ValueError("bad base64url: not canonical")
    try:
        padded = (text + "=" * (-len(text) % 4)).encode("ascii")
        return binascii.a2b_base64(padded.translate(_FROM_URLSAFE), strict_mode=True)
    except (binascii.Error, ValueError) as error:  # UnicodeEncodeError is a ValueError
        raise ValueError("bad base64url") from error


class SealError(Exception):
    """A sealed value did not open. ``kind`` is "malformed", "unknown-key" or "bad-tag"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    aead: AESGCM | AESGCMSIV
    aad: bytes


class Keyring:
    """Key ids mapped to raw keys; one is active. Subkeys are derived per purpose and hour.

    ``clock`` (unix seconds) picks the hour a value is sealed in; tests may replace it.
    """

    def __init__(
        self, keys: dict[str, bytes], active: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        if active not in keys:
            raise ValueError(f"active key id {active!r} is not in the keyring")
        for kid, raw in keys.items():
            if len(raw) < MIN_KEY_BYTES:
                raise ValueError(f"key {kid!r} is shorter than {MIN_KEY_BYTES} bytes")
            if not kid or "." in kid or len(kid) > 16:
                raise ValueError(f"key id {kid!r} must be 1-16 characters without '.'")
        self._raw = dict(keys)
        self.active = active
        self.clock = clock
        self._cache: dict[tuple[str, str, int], _Key] = {}

    @classmethod
    def from_settings(cls, keyring: dict[str, str], active: str) -> Keyring:
        return cls({kid: b64d(value) for kid, value in keyring.items()}, active)

    def _key(self, purpose: str, kid: str, epoch: int) -> _Key | None:
        """The AES-GCM subkey of ``purpose`` and the hour ``epoch`` (-1: v1's GCM-SIV key)."""
        cached = self._cache.get((purpose, kid, epoch))
        if cached is not None:
            return cached
        raw = self._raw.get(kid)
        if raw is None:
            return None
        key: _Key
        if epoch < 0:
            info = b"haechi/" + purpose.encode()
            sub = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)
            key = _Key(kid, AESGCMSIV(sub), f"{_V1}|{purpose}|{kid}".encode())
        else:
            info = b"haechi/gcm/" + purpose.encode() + b"/" + epoch.to_bytes(_EPOCH_BYTES, "big")
            sub = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)
            key = _Key(kid, AESGCM(sub), f"{SEAL_VERSION}|{purpose}|{kid}|{epoch}".encode())
        if len(self._cache) >= _MAX_CACHED_KEYS:  # about a day of hours for every purpose
            self._cache.clear()
        self._cache[(purpose, kid, epoch)] = key
        return key

    def seal(self, purpose: str, plaintext: bytes, *, pad_to: int = 0) -> str:
        """Seal ``plaintext``; with ``pad_to``, pad it with spaces to a multiple of that many
        bytes first (JSON ignores trailing whitespace), hiding its exact length."""
        epoch = int(self.clock() // EPOCH_SECONDS)
        key = self._key(purpose, self.active, epoch)
        assert key is not None
        if pad_to:
            plaintext += b" " * (-len(plaintext) % pad_to)
        head = epoch.to_bytes(_EPOCH_BYTES, "big") + random_bytes(_NONCE_BYTES)
        sealed = key.aead.encrypt(head[_EPOCH_BYTES:], plaintext, key.aad)
        return f"{SEAL_VERSION}.{key.kid}.{b64e(head + sealed)}"

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
        if len(parts) != 3 or parts[0] not in (SEAL_VERSION, _V1):
            raise SealError("malformed")
        if parts[1] not in self._raw:
            raise SealError("unknown-key")
        try:
            blob = b64d(parts[2])
        except ValueError:
            raise SealError("malformed") from None
        if parts[0] == _V1:  # sealed before the upgrade to v2, still within its life
            epoch, head = -1, 0
        else:
            epoch, head = int.from_bytes(blob[:_EPOCH_BYTES], "big"), _EPOCH_BYTES
            now = int(self.clock() // EPOCH_SECONDS)
            # Nothing sealed lives a day; a bound on the hours keeps forged ones from making
            # the ring derive (and cache) keys for any hour they name.
            if not now - _EPOCHS_OPEN <= epoch <= now + 1:
                raise SealError("malformed")
        if len(blob) < head + _NONCE_BYTES + _TAG_BYTES:
            raise SealError("malformed")
        key = self._key(purpose, parts[1], epoch)
        assert key is not None
        nonce = blob[head : head + _NONCE_BYTES]
        try:
            return key.aead.decrypt(nonce, blob[head + _NONCE_BYTES :], key.aad)
        except InvalidTag:
            raise SealError("bad-tag") from None


def secret_digest(pepper: bytes, secret: str) -> str:
    """Keyed digest under which a site secret is stored: fast to look up, never recoverable.

    HMAC-SHA256 (RFC 2104) from the pepper's two padded blocks, hashed once per pepper and
    copied per call: a third of ``hmac.digest``'s cost, which sets up OpenSSL's HMAC each time
    (every /siteverify digests its secret). Equal to ``hmac.digest(pepper, secret, "sha256")``.
    """
    pads = _HMAC_PADS.get(pepper)
    if pads is None:
        pads = _hmac_pads(pepper)
    inner, outer = pads[0].copy(), pads[1].copy()
    inner.update(secret.encode("utf-8"))
    outer.update(inner.digest())
    return outer.hexdigest()


_SHA256_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_HMAC_PADS: dict[bytes, tuple[hashlib._Hash, hashlib._Hash]] = {}


def _hmac_pads(pepper: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    key = hashlib.sha256(pepper).digest() if len(pepper) > _SHA256_BLOCK else pepper
    block = key.ljust(_SHA256_BLOCK, b"\0")
    pads = hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))
    if len(_HMAC_PADS) >= 8:  # one pepper a process; a bound all the same
        _HMAC_PADS.clear()
    _HMAC_PADS[pepper] = pads
    return pads


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
    private_dir(data_dir)
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
