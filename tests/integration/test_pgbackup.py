"""The backup CronJob's script (deploy/kustomize/base/backup/pgbackup.py): retention, and the
documented restore end to end — pg_dump of a migrated Haechi database with a site in it, upload
to S3 (moto), prune, fetch the latest, pg_restore into an empty database, same rows."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import POSTGRES_URL, _create_database, _drop_database, unavailable, unique
from tests.integration.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server, s3_server  # noqa: F401

SCRIPT = (
    Path(__file__).resolve().parents[2] / "deploy" / "kustomize" / "base" / "backup" / "pgbackup.py"
)


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pgbackup", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["pgbackup"] = module
    spec.loader.exec_module(module)
    return module


pgbackup = load()


def hourly(start: datetime, hours: int) -> list[datetime]:
    return [start + timedelta(hours=h) for h in range(hours)]


def test_retention_keeps_24_hourly_7_daily_4_weekly_12_monthly() -> None:
    now = datetime(2026, 12, 7, 22, 7, tzinfo=UTC)
    # Two years of hourly dumps, the last one at 22:07 today.
    times = hourly(now - timedelta(days=730), 730 * 24 + 1)
    kept = pgbackup.keep(times, now)
    # The newest of each of the last 24 hours.
    assert {t for t in kept if t > now - timedelta(hours=24)} == set(times[-24:])
    # The newest of each of the last 7 calendar days (today and the 6 before it).
    for back in range(7):
        day = (now - timedelta(days=back)).date()
        assert max(t for t in times if t.date() == day) in kept
    # The newest of each of the last 4 ISO weeks.
    for back in range(4):
        week = (now - timedelta(weeks=back)).isocalendar()[:2]
        assert max(t for t in times if t.isocalendar()[:2] == week) in kept
    # 12 months back at most, one per month beyond the weeks.
    assert min(kept) >= datetime(2026, 1, 1, tzinfo=UTC)
    monthly = {(t.year, t.month) for t in kept}
    assert len(monthly) == 12
    assert len(kept) <= 24 + 7 + 4 + 12
    # Every kept dump is the newest of some period of some rule.
    for moment in kept:
        assert any(
            max(t for t in times if pgbackup.bucket_of(t, unit) == pgbackup.bucket_of(moment, unit))
            == moment
            for unit, _ in pgbackup.RULES
        )


def test_retention_keeps_everything_young_and_sparse() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    times = [now - timedelta(days=d) for d in (0, 3, 40, 200)]
    assert pgbackup.keep(times, now) == set(times)
    # Future-dated keys (a skewed clock) are never what keeps the retention going.
    assert pgbackup.keep([now + timedelta(hours=1)], now) == set()


def test_key_time_parses_only_dump_keys() -> None:
    key = "backups/postgres/2026/12/07/haechi-20261207T220700Z.dump"
    assert pgbackup.key_time(key) == datetime(2026, 12, 7, 22, 7, tzinfo=UTC)
    assert pgbackup.key_time("backups/postgres/notes.txt") is None


@pytest.fixture
def postgres_database() -> Iterator[str]:
    name = unique("haechi_backup")
    try:
        url = asyncio.run(_create_database(POSTGRES_URL, name))
    except Exception as error:  # PostgreSQL not running
        unavailable("PostgreSQL", error)
    try:
        yield url
    finally:
        asyncio.run(_drop_database(POSTGRES_URL, name))


def libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def snapshot(url: str) -> list[str]:
    """The probe table's row count and digest, and the schema revision."""
    return subprocess.run(
        [
            "psql",
            libpq(url),
            "-At",
            "-c",
            "SELECT count(*), md5(string_agg(note, ',' ORDER BY id)) FROM backup_probe;"
            "SELECT version_num FROM alembic_version;",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()


def test_dump_upload_prune_restore(
    s3_server: S3Server,  # noqa: F811
    postgres_database: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        unavailable("pg_dump/pg_restore", FileNotFoundError("postgresql-client"))
    from haechi.core.db import migrate

    asyncio.run(migrate(postgres_database))
    subprocess.run(
        [
            "psql",
            libpq(postgres_database),
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            "CREATE TABLE backup_probe (id int primary key, note text);"
            "INSERT INTO backup_probe SELECT g, md5(g::text) FROM generate_series(1, 500) g;",
        ],
        check=True,
    )
    dump = tmp_path / "haechi.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", libpq(postgres_database)],
        check=True,
    )

    bucket = s3_server.new_bucket()
    monkeypatch.setenv("BACKUP_S3_BUCKET", bucket)
    monkeypatch.setenv("BACKUP_S3_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", REGION)
    s3 = pgbackup.client()
    # Older dumps: the upload prunes them to the retention.
    prefix = "backups/postgres/"
    now = datetime.now(UTC)
    for moment in [now - timedelta(hours=5 * n) for n in range(1, 200)]:  # 41 days, every 5 h
        key = f"{prefix}{moment:%Y/%m/%d}/haechi-{moment:%Y%m%dT%H%M%SZ}.dump"
        s3.put_object(Bucket=bucket, Key=key, Body=b"old")
    assert pgbackup.main(["upload", str(dump)]) == 0
    keys = pgbackup.list_keys(s3, bucket, prefix)
    assert len(keys) <= 24 + 7 + 4 + 12
    latest = keys[-1]
    assert s3.get_object(Bucket=bucket, Key=latest)["Body"].read() == dump.read_bytes()

    target = unique("haechi_restore")
    target_url = asyncio.run(_create_database(POSTGRES_URL, target))
    try:
        assert pgbackup.main(["restore", "latest", target_url]) == 0
        rows, source = (snapshot(url) for url in (target_url, postgres_database))
        assert rows == source
        assert rows[0].startswith("500|")
    finally:
        asyncio.run(_drop_database(POSTGRES_URL, target))
