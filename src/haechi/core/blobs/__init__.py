"""Blob storage: one interface (``BlobStore``), a local-folder and an S3 backend.

``create_blob_store(settings, keyring)`` returns the backend ``settings.blobs.backend`` names.
The S3 backend is imported only when chosen, so the embedded mode runs without boto3.
"""

from __future__ import annotations

from pathlib import Path

from haechi.core.blobs.base import (
    Blob,
    BlobNotFound,
    BlobStore,
    BlobUnavailable,
    check_key,
    valid_key,
)
from haechi.core.blobs.fs import BlobUrlSigner, FsBlobStore
from haechi.core.crypto import Keyring
from haechi.core.settings import Settings

__all__ = [
    "Blob",
    "BlobNotFound",
    "BlobStore",
    "BlobUnavailable",
    "BlobUrlSigner",
    "FsBlobStore",
    "blob_folder",
    "check_key",
    "create_blob_store",
    "valid_key",
]


def blob_folder(settings: Settings) -> Path:
    return Path(settings.blobs.path) if settings.blobs.path else settings.data_dir / "blobs"


def create_blob_store(settings: Settings, keyring: Keyring) -> BlobStore:
    blobs = settings.blobs
    if blobs.backend == "s3":
        from haechi.core.blobs.s3 import S3BlobStore

        return S3BlobStore.from_settings(blobs.s3)
    return FsBlobStore(blob_folder(settings), BlobUrlSigner(keyring), base_url=blobs.public_url)
