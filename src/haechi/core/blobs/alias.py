"""Per-challenge URLs for pool items: the same picture never has the same URL twice.

A pool item keeps its blob key for the life of its generation, and an item is shown in many
challenges. A URL that names the key (the fs backend's signed URL, an S3 presigned URL) would let
a bot that harvests solved challenges learn "this URL is a bicycle" without looking at the
picture. An alias names nothing: it is the key and an expiry sealed under the app keyring
(AES-256-GCM with a random nonce, padded to a fixed size), so two URLs for one item share no
byte, and every alias has the same length. The edge opens it and serves the blob from whichever
backend holds it: ``GET /v1/media/<alias>`` (``haechi.core.blobs.routes``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from haechi.core.blobs.base import valid_key
from haechi.core.crypto import Keyring, SealError

ALIAS_PATH = "/v1/media/"
_PURPOSE = "blob-alias"
# Pool keys are short (``pools/<name>/<generation>/items/<hex>``); padding hides the rest.
_PAD = 128
# A sealed alias is about 200 characters; anything much longer is not one.
MAX_ALIAS_CHARS = 512


@dataclass(frozen=True, slots=True)
class Resolved:
    key: str
    exp: int
    # This showing's random seed for per-serve variation (``haechi.challenges.variation``);
    # 0 in aliases made before it existed.
    seed: int = 0


class BlobAliases:
    """Makes and opens alias URLs; ``base_url`` is ``blobs.public_url`` (empty: a path the
    widget resolves against its endpoint)."""

    def __init__(
        self, keyring: Keyring, base_url: str = "", clock: Callable[[], float] = time.time
    ) -> None:
        self._keyring = keyring
        self.base_url = base_url.rstrip("/")
        self.clock = clock

    def url(self, key: str, ttl_seconds: int) -> str:
        if not valid_key(key):
            raise ValueError(f"bad blob key {key!r}")
        exp = int(self.clock()) + max(1, int(ttl_seconds))
        seed = secrets.randbits(48) | 1  # never 0
        token = self._keyring.seal(_PURPOSE, orjson.dumps([key, exp, seed]), pad_to=_PAD)
        return f"{self.base_url}{ALIAS_PATH}{token}"

    def resolve(self, token: str) -> Resolved | str:
        """The blob an alias names, or why it is refused: "bad-signature" or "expired"."""
        if len(token) > MAX_ALIAS_CHARS:
            return "bad-signature"
        try:
            key, exp, *rest = orjson.loads(self._keyring.open(_PURPOSE, token))
        except (SealError, orjson.JSONDecodeError, ValueError, TypeError):
            return "bad-signature"
        seed = rest[0] if len(rest) == 1 else 0 if not rest else None
        if not isinstance(key, str) or type(exp) is not int or not valid_key(key):
            return "bad-signature"
        if type(seed) is not int:
            return "bad-signature"
        if exp <= self.clock():
            return "expired"
        return Resolved(key, exp, seed)

    def seconds_left(self, resolved: Resolved) -> int:
        return max(0, int(resolved.exp - self.clock()))
