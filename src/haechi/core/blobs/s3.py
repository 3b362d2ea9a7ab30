"""Blobs in S3-compatible storage (AWS S3, MinIO, Kakao Object Storage), fetched by presigned URL.

boto3 is synchronous, so every call runs in a worker thread; its clients are thread-safe.
Presigning needs no network once credentials are known, but resolving credentials (instance
metadata, web identity) may, so it runs in a thread as well. The bucket must stay private:
presigned URLs are the only way in, and pool manifests in it name the answers.

``public_endpoint_url`` signs URLs for the host browsers reach when it differs from the one
Haechi talks to (e.g. ``http://minio:9000`` inside the cluster, ``https://blobs.example`` out).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from haechi.core.blobs.base import (
    Blob,
    BlobNotFound,
    BlobStore,
    BlobUnavailable,
    check_content_type,
    check_key,
    check_prefix,
)

if TYPE_CHECKING:
    from haechi.core.settings import S3Settings

T = TypeVar("T")
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3BlobStore(BlobStore):
    backend = "s3"

    def __init__(
        self, client: Any, *, bucket: str, prefix: str = "", presign_client: Any = None
    ) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.client = client
        self.presign_client = presign_client or client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: S3Settings) -> S3BlobStore:
        import boto3
        from botocore.config import Config

        if not settings.bucket:
            raise ValueError("the s3 blob backend needs HAECHI_BLOBS__S3__BUCKET")
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.addressing_style},
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=settings.max_connections,
        )
        session = boto3.session.Session(
            aws_access_key_id=settings.access_key_id or None,
            aws_secret_access_key=settings.secret_access_key or None,
            region_name=settings.region or None,
        )
        client = session.client("s3", endpoint_url=settings.endpoint_url or None, config=config)
        presign = None
        if settings.public_endpoint_url:
            presign = session.client("s3", endpoint_url=settings.public_endpoint_url, config=config)
        return cls(client, bucket=settings.bucket, prefix=settings.prefix, presign_client=presign)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def _call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(fn, **kwargs)
        except ClientError as error:
            if _error_code(error) in _MISSING_CODES:
                raise BlobNotFound(kwargs.get("Key", "")) from None
            raise BlobUnavailable(f"s3 {self.bucket}: {_error_code(error)}") from error
        except BotoCoreError as error:
            raise BlobUnavailable(f"s3 {self.bucket}: {error}") from error

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call(
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._name(key),
            Body=data,
            ContentType=check_content_type(content_type),
        )

    async def get(self, key: str) -> Blob:
        def read(**kwargs: Any) -> Blob:
            response = self.client.get_object(**kwargs)
            with response["Body"] as body:
                data = body.read()
            return Blob(data, response.get("ContentType") or "application/octet-stream")

        return await self._call(read, Bucket=self.bucket, Key=self._name(key))

    async def delete(self, key: str) -> None:
        await self._call(self.client.delete_object, Bucket=self.bucket, Key=self._name(key))

    async def delete_many(self, keys: Iterable[str]) -> int:
        names = [self._name(k) for k in keys]
        for start in range(0, len(names), _DELETE_BATCH):
            batch = [{"Key": n} for n in names[start : start + _DELETE_BATCH]]
            result = await self._call(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            )
            if result.get("Errors"):
                first = result["Errors"][0]
                raise BlobUnavailable(f"s3 {self.bucket}: delete failed: {first.get('Code')}")
        return len(names)

    async def exists(self, key: str) -> bool:
        try:
            await self._call(self.client.head_object, Bucket=self.bucket, Key=self._name(key))
        except BlobNotFound:
            return False
        return True

    async def list(self, prefix: str = "") -> list[str]:
        full = self.prefix + check_prefix(prefix)

        def walk(**kwargs: Any) -> list[str]:
            keys: list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(**kwargs):
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
            return keys

        return sorted(await self._call(walk, Bucket=self.bucket, Prefix=full))

    async def url(self, key: str, ttl_seconds: int) -> str:
        ttl = max(1, int(ttl_seconds))
        params = {
            "Bucket": self.bucket,
            "Key": self._name(key),
            # Browsers may keep it only while the URL itself is valid.
            "ResponseCacheControl": f"private, max-age={ttl}",
        }

        def presign(**kwargs: Any) -> str:
            url: str = self.presign_client.generate_presigned_url(**kwargs)
            return url

        return await self._call(presign, ClientMethod="get_object", Params=params, ExpiresIn=ttl)

    async def close(self) -> None:
        for client in {
            id(self.client): self.client,
            id(self.presign_client): self.presign_client,
        }.values():
            close = getattr(client, "close", None)
            if close is not None:
                await asyncio.to_thread(close)
