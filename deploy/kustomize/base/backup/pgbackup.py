"""PostgreSQL dumps in object storage, with grandfather-father-son retention.

    pgbackup.py upload DUMP        # store a pg_dump -Fc as <prefix>…<UTC time>.dump, then prune
    pgbackup.py prune [--dry-run]  # delete what the retention keeps no longer
    pgbackup.py list               # one key a line, oldest first
    pgbackup.py fetch KEY|latest PATH
    pgbackup.py restore KEY|latest DATABASE_URL   # fetch, then pg_restore --clean --if-exists

Retention: the newest dump of each of the last 24 hours, 7 days, 4 ISO weeks and 12 months
(counted back from now, in UTC); everything else is deleted. A dump is kept while any rule
keeps it, so at most 24 + 7 + 4 + 12 = 47 are kept.

Settings from the environment: BACKUP_S3_BUCKET (required), BACKUP_S3_PREFIX
(default "backups/postgres/"), BACKUP_S3_ENDPOINT_URL (empty for AWS), AWS_REGION and the
usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or an instance role). Runs in the Haechi image
(Python and boto3 are there; pg_dump and pg_restore come from a PostgreSQL image beside it,
see cronjob.yaml and docs/deploy.md#backup-and-restore).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

KEY_TIME = re.compile(r"(\d{8}T\d{6}Z)\.dump$")
RULES = (("hour", 24), ("day", 7), ("week", 4), ("month", 12))


def bucket_of(moment: datetime, unit: str) -> tuple[int, ...]:
    if unit == "hour":
        return (moment.year, moment.month, moment.day, moment.hour)
    if unit == "day":
        return (moment.year, moment.month, moment.day)
    if unit == "week":
        year, week, _ = moment.isocalendar()
        return (year, week)
    return (moment.year, moment.month)


def periods_back(now: datetime, unit: str, count: int) -> set[tuple[int, ...]]:
    """The ``count`` most recent periods of ``unit`` up to and including now's."""
    found: set[tuple[int, ...]] = set()
    moment = now
    while len(found) < count:
        found.add(bucket_of(moment, unit))
        if unit == "hour":
            moment -= timedelta(hours=1)
        elif unit == "day":
            moment -= timedelta(days=1)
        elif unit == "week":
            moment -= timedelta(weeks=1)
        else:  # the last day of the previous month
            moment = moment.replace(day=1) - timedelta(days=1)
    return found


def keep(times: Iterable[datetime], now: datetime) -> set[datetime]:
    """The dumps the retention keeps: per rule, the newest dump in each of its periods."""
    times = sorted(t for t in times if t <= now)
    kept: set[datetime] = set()
    for unit, count in RULES:
        wanted = periods_back(now, unit, count)
        newest: dict[tuple[int, ...], datetime] = {}
        for moment in times:
            period = bucket_of(moment, unit)
            if period in wanted:
                newest[period] = moment  # sorted: the last one seen is the newest
        kept.update(newest.values())
    return kept


def key_time(key: str) -> datetime | None:
    match = KEY_TIME.search(key)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def client() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get("BACKUP_S3_ENDPOINT_URL") or None)


def settings() -> tuple[str, str]:
    bucket = os.environ.get("BACKUP_S3_BUCKET", "")
    if not bucket:
        raise SystemExit("set BACKUP_S3_BUCKET")
    return bucket, os.environ.get("BACKUP_S3_PREFIX", "backups/postgres/")


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", []) if key_time(item["Key"])]
    return sorted(keys, key=lambda k: key_time(k) or datetime.min.replace(tzinfo=UTC))


def prune(s3: Any, bucket: str, prefix: str, now: datetime, dry_run: bool = False) -> list[str]:
    keys = list_keys(s3, bucket, prefix)
    times = {key: key_time(key) for key in keys}
    kept = keep([t for t in times.values() if t], now)
    doomed = [key for key, moment in times.items() if moment not in kept]
    if not dry_run:
        for start in range(0, len(doomed), 1000):
            batch = [{"Key": key} for key in doomed[start : start + 1000]]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return doomed


def resolve(s3: Any, bucket: str, prefix: str, key: str) -> str:
    if key != "latest":
        return key
    keys = list_keys(s3, bucket, prefix)
    if not keys:
        raise SystemExit(f"no dumps under s3://{bucket}/{prefix}")
    return keys[-1]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"upload", "prune", "list", "fetch", "restore"}:
        print(__doc__, file=sys.stderr)
        return 2
    bucket, prefix = settings()
    s3 = client()
    now = datetime.now(UTC)
    command = argv[0]
    if command == "upload":
        dump = argv[1]
        if os.path.getsize(dump) == 0:
            raise SystemExit(f"{dump} is empty: not uploading it")
        key = f"{prefix}{now:%Y/%m/%d}/haechi-{now:%Y%m%dT%H%M%SZ}.dump"
        s3.upload_file(dump, bucket, key)
        print(f"uploaded s3://{bucket}/{key} ({os.path.getsize(dump)} bytes)")
        for gone in prune(s3, bucket, prefix, now):
            print(f"pruned s3://{bucket}/{gone}")
    elif command == "prune":
        dry_run = "--dry-run" in argv
        for gone in prune(s3, bucket, prefix, now, dry_run=dry_run):
            print(f"{'would prune' if dry_run else 'pruned'} s3://{bucket}/{gone}")
    elif command == "list":
        for key in list_keys(s3, bucket, prefix):
            print(key)
    elif command == "fetch":
        key = resolve(s3, bucket, prefix, argv[1])
        s3.download_file(bucket, key, argv[2])
        print(f"fetched s3://{bucket}/{key} into {argv[2]}")
    else:
        key = resolve(s3, bucket, prefix, argv[1])
        pg_restore = shutil.which("pg_restore")
        if pg_restore is None:
            raise SystemExit("pg_restore is not installed (a PostgreSQL client package)")
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "restore.dump")
            s3.download_file(bucket, key, path)
            url = re.sub(r"^postgresql\+\w+://", "postgresql://", argv[2])
            subprocess.run(  # noqa: S603
                [
                    pg_restore,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--exit-on-error",
                    "--dbname",
                    url,
                    path,
                ],
                check=True,
            )
        print(f"restored s3://{bucket}/{key}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
