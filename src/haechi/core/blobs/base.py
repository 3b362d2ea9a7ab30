"""The blob store interface: bytes under keys, and signed, expiring URLs to fetch them.

Blobs are what is too large for a sealed challenge or a database row: challenge images and audio
clips, pool manifests, model files, exports. Two backends implement one interface and are run
by one test suite: a local folder whose URLs the edge serves itself (``fs``) and S3-compatible
storage with presigned URLs (``s3``).

Keys are ``/``-separated paths of plain characters. They are validated the same way on every
backend, so a key that works on a laptop works on S3, and no key can climb out of a folder.
URLs are capabilities: whoever holds one may fetch that one blob until it expires, so a key must
never say anything the URL's holder should not learn (pool items use random keys).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

MAX_KEY_CHARS = 512
# Segments start with a letter, digit, "_" or "-" (never "."), so "..", dot-files and the fs
# backend's own ".meta" folder can never be named.
_SEGMENT = r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CONTENT_TYPE_RE = re.compile(
    r"[a-z0-9][a-z0-9.+\-]*/[a-z0-9][a-z0-9.+\-]*(?:; ?[a-z\-]+=[\w.\-]+)?"
)


class BlobNotFound(KeyError):
    """No blob is stored under this key."""


class BlobUnavailable(Exception):
    """The backend failed (disk, network, credentials); the caller should fail closed."""


@dataclass(frozen=True, slots=True)
class Blob:
    data: bytes
    content_type: str


def valid_key(key: str) -> bool:
    return len(key) <= MAX_KEY_CHARS and _KEY_RE.fullmatch(key) is not None


def check_key(key: str) -> str:
    if not valid_key(key):
        raise ValueError(f"bad blob key {key[:80]!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key or the start of one (a trailing "/" is allowed)."""
    if prefix and not valid_key(prefix.rstrip("/")):
        raise ValueError(f"bad blob prefix {prefix[:80]!r}")
    return prefix


def check_content_type(content_type: str) -> str:
    lowered = content_type.strip().lower()
    if not _CONTENT_TYPE_RE.fullmatch(lowered):
        raise ValueError(f"bad content type {content_type[:80]!r}")
    return lowered


class BlobStore(ABC):
    """Async blob storage. Every method may raise ``BlobUnavailable``; ``get`` raises
    ``BlobNotFound`` for a missing key; ``delete`` of a missing key is not an error."""

    backend: str

    @abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing what was there; readers never see half."""

    @abstractmethod
    async def get(self, key: str) -> Blob: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def list(self, prefix: str = "") -> list[str]:
        """Every key that starts with ``prefix``, sorted."""

    @abstractmethod
    async def url(self, key: str, ttl_seconds: int) -> str:
        """A URL that fetches this blob for ``ttl_seconds``, then stops working. It does not
        check that the blob exists (that would cost a round trip per challenge)."""

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Delete several keys; returns how many were asked for. Backends batch where they can."""
        count = 0
        for key in keys:
            await self.delete(key)
            count += 1
        return count

    async def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release connections; the default holds none."""
