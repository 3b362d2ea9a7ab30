"""An S3-compatible server on loopback (moto in server mode) for the blob tests.

moto stores and serves objects like S3 but does not enforce presigned URLs' signatures or
expiry, so ``presigned_ok`` checks a URL the way S3 does (SigV4 query signing, recomputed with
botocore for the URL's own timestamp, then the expiry) to stand in for that part.
"""

from __future__ import annotations

import calendar
import hmac
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from haechi.core.settings import BlobsSettings, S3Settings

REGION = "us-east-1"
ACCESS_KEY = "haechi-test-access"
SECRET_KEY = "haechi-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self) -> object:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )

    def new_bucket(self) -> str:
        name = f"haechi-test-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
        return name

    def settings(self, bucket: str, **fields: object) -> BlobsSettings:
        s3 = S3Settings(
            endpoint_url=self.endpoint,
            bucket=bucket,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            addressing_style="path",
            **fields,  # type: ignore[arg-type]
        )
        return BlobsSettings(backend="s3", s3=s3)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()


def presigned_ok(url: str, *, now: float | None = None) -> bool:
    """Whether S3 would accept this presigned GET: a SigV4 query signature made with the test
    credentials over exactly this method, host, path and query, and not yet expired."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(query).get("X-Amz-Signature", "")
    amz_date = dict(query).get("X-Amz-Date", "")
    expires = int(dict(query).get("X-Amz-Expires", "0"))
    unsigned = [(k, v) for k, v in query if k != "X-Amz-Signature"]
    request = AWSRequest(
        method="GET",
        url=urlunsplit((*parts[:3], urlencode(unsigned, quote_via=quote), "")),
        headers={},
    )
    request.context["timestamp"] = amz_date
    auth = S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION, expires=expires)
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    expected = auth.signature(string_to_sign, request)
    if not hmac.compare_digest(given, expected):
        return False
    signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    return (time.time() if now is None else now) < signed_at + expires
