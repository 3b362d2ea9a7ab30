"""Blobs in a local folder, fetched through HMAC-signed, expiring URLs that the edge serves.

The embedded default: no object store to run. ``<root>/<key>`` holds the bytes and
``<root>/.meta/<key>`` the content type; both are written to a temporary file and renamed, so a
reader sees the old blob or the new one, never half of one. File work runs in a thread: a slow
disk must not stall the event loop.

A URL reads ``<base>/v1/blob/<key>?exp=<unix seconds>&sig=<kid>.<mac>`` where ``mac`` is
HMAC-SHA256 over the delimited ``key`` and ``exp`` under a subkey derived from the app keyring
(so no new secret is needed, and keyring rotation rotates it too).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from haechi.core.blobs.base import (
    DEFAULT_CONTENT_TYPE,
    Blob,
    BlobNotFound,
    BlobStore,
    BlobUnavailable,
    check_content_type,
    check_key,
    check_prefix,
    valid_key,
)
from haechi.core.crypto import Keyring, b64d, b64e

URL_PATH = "/v1/blob/"
_MAC_PURPOSE = "blob-url"
_META_DIR = ".meta"
# The longest ``exp`` we accept: bounds the integer parsed from a query string.
_MAX_EXP_DIGITS = 12


class BlobUrlSigner:
    """Signs and checks ``(key, exp)`` pairs; every comparison is constant-time."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._keys: dict[str, bytes] = {}

    def _key(self, kid: str) -> bytes | None:
        cached = self._keys.get(kid)
        if cached is None:
            cached = self._keyring.mac_key(_MAC_PURPOSE, kid)
            if cached is not None:
                self._keys[kid] = cached
        return cached

    @staticmethod
    def _message(key: str, exp: int) -> bytes:
        # Delimited and versioned: no (key, exp) pair can be read as another.
        return f"haechi-blob-v1\n{key}\n{exp}".encode()

    def sign(self, key: str, exp: int) -> str:
        kid = self._keyring.active
        mac_key = self._key(kid)
        assert mac_key is not None
        mac = hmac.new(mac_key, self._message(key, exp), hashlib.sha256).digest()
        return f"{kid}.{b64e(mac)}"

    def verify(self, key: str, exp: int, sig: str) -> bool:
        kid, _, encoded = sig.partition(".")
        mac_key = self._key(kid) if kid else None
        if mac_key is None:
            return False
        try:
            given = b64d(encoded)
        except ValueError:
            return False
        expected = hmac.new(mac_key, self._message(key, exp), hashlib.sha256).digest()
        return hmac.compare_digest(given, expected)


def parse_exp(text: str | None) -> int | None:
    if not text or len(text) > _MAX_EXP_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


class FsBlobStore(BlobStore):
    backend = "fs"

    def __init__(
        self,
        root: Path,
        signer: BlobUrlSigner,
        *,
        base_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root.resolve()
        self.signer = signer
        self.base_url = base_url.rstrip("/")
        self.clock = clock

    # ------------------------------------------------------------------ paths

    def _paths(self, key: str) -> tuple[Path, Path]:
        check_key(key)
        data = self.root / key
        meta = self.root / _META_DIR / key
        # Keys cannot hold ".." or start with "/", but a symlink inside the root could still
        # point out of it: refuse anything that does not resolve below the root.
        if not data.resolve().is_relative_to(self.root):
            raise ValueError(f"blob key {key[:80]!r} leaves the store")
        return data, meta

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _prune_dirs(self, start: Path, top: Path) -> None:
        """Remove now-empty folders left by deletes, up to (not including) ``top``."""
        current = start
        while current != top and current.is_relative_to(top):
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent

    # ------------------------------------------------------------------ sync work

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        path, meta = self._paths(key)
        # Meta first: a visible blob always has its content type.
        self._write_atomic(meta, content_type.encode())
        self._write_atomic(path, data)

    def _get(self, key: str) -> Blob:
        path, meta = self._paths(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None
        try:
            content_type = meta.read_text().strip() or DEFAULT_CONTENT_TYPE
        except (FileNotFoundError, NotADirectoryError):
            content_type = DEFAULT_CONTENT_TYPE
        return Blob(data, content_type)

    def _delete(self, key: str) -> None:
        path, meta = self._paths(key)
        for target, top in ((path, self.root), (meta, self.root / _META_DIR)):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
                target.unlink()
                self._prune_dirs(target.parent, top)

    def _exists(self, key: str) -> bool:
        path, _ = self._paths(key)
        return path.is_file()

    def _list(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        # Walk from the deepest folder the prefix names fully, then filter.
        folder, _, _ = prefix.rpartition("/")
        start = self.root / folder if folder else self.root
        if not start.is_dir():
            return []
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            base = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if base == "." else f"{base}/{name}"
                if key.startswith(prefix) and valid_key(key):
                    keys.append(key)
        return sorted(keys)

    async def _run(self, fn: Callable[..., object], *args: object) -> object:
        try:
            return await asyncio.to_thread(fn, *args)
        except (BlobNotFound, ValueError):
            raise
        except OSError as error:
            raise BlobUnavailable(f"blob folder {self.root}: {error}") from error

    # ------------------------------------------------------------------ interface

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._run(self._put, key, data, check_content_type(content_type))

    async def get(self, key: str) -> Blob:
        blob = await self._run(self._get, key)
        assert isinstance(blob, Blob)
        return blob

    async def delete(self, key: str) -> None:
        await self._run(self._delete, key)

    async def exists(self, key: str) -> bool:
        return bool(await self._run(self._exists, key))

    async def list(self, prefix: str = "") -> list[str]:
        keys = await self._run(self._list, prefix)
        assert isinstance(keys, list)
        return keys

    async def url(self, key: str, ttl_seconds: int) -> str:
        check_key(key)
        exp = int(self.clock()) + max(1, int(ttl_seconds))
        sig = self.signer.sign(key, exp)
        return f"{self.base_url}{URL_PATH}{key}?exp={exp}&sig={sig}"

    # ------------------------------------------------------------------ serving

    def check_url(self, key: str, exp_text: str | None, sig: str | None) -> str | None:
        """Why a URL's signature is refused ("bad-signature", "expired"), or None when it may
        be served. Order: format, signature, expiry — an expired URL is reported as expired
        only when it was genuine."""
        exp = parse_exp(exp_text)
        if exp is None or not sig or not valid_key(key):
            return "bad-signature"
        if not self.signer.verify(key, exp, sig):
            return "bad-signature"
        if exp <= self.clock():
            return "expired"
        return None

    def seconds_left(self, exp_text: str | None) -> int:
        exp = parse_exp(exp_text)
        return max(0, int(exp - self.clock())) if exp is not None else 0
