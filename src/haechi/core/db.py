"""The relational database: engine, sessions, migrations and portable column types.

One schema runs on SQLite (embedded mode), PostgreSQL and MySQL/MariaDB. What differs between them
is kept here: SQLite gets WAL, enforced foreign keys and real transactions (so savepoints and
rolled-back test transactions work); MySQL gets utf8mb4 with a binary collation, so that
case-sensitive keys compare as they do elsewhere; datetimes come back timezone-aware in UTC and
ids come back as ``uuid.UUID`` on every backend.

The schema itself is owned by Alembic (``haechi/migrations``); ``migrate`` runs it from code, with
no ``alembic.ini``, so it works from an installed package.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import URL, Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from haechi.core.files import PRIVATE_DIR, private_file
from haechi.core.settings import DbSettings, Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Constraint names are part of the schema: migrations refer to them by name, so they must not
# depend on which backend generated them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Every table on MySQL/MariaDB: InnoDB for foreign keys, utf8mb4 for all of Unicode, and a binary
# collation because site keys are case-sensitive base62 (a *_ci collation would make "hk_a" and
# "hk_A" collide, and match each other on lookup).
MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

_MYSQL = ("mysql", "mariadb")

# Two migrators (replicas starting together) must not both create the same tables.
_MIGRATION_LOCK_ID = 0x48_41_45_43_48_49  # "HAECHI"
_MIGRATION_LOCK_NAME = "haechi_migrate"


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- column types


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC, returned aware in UTC on every backend.

    PostgreSQL keeps the zone (``timestamptz``); SQLite and MySQL store a naive UTC value, which
    gets its zone back on the way out. MySQL keeps microseconds (``DATETIME(6)``). Naive values
    are refused: a naive datetime is a bug waiting for a server in another zone.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: use a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "postgresql":
            return value
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class GUID(sa.TypeDecorator[uuid.UUID]):
    """A UUID id: native ``uuid`` on PostgreSQL, ``CHAR(36)`` (dashed, lowercase) elsewhere.

    Accepts ``uuid.UUID`` or its string form; always returns ``uuid.UUID``. Not ``sa.Uuid``,
    whose storage on MariaDB changes with the server version (native from 10.7, CHAR(32) before).
    """

    impl = sa.CHAR(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID(as_uuid=True))
        return dialect.type_descriptor(sa.CHAR(36))

    def process_bind_param(self, value: uuid.UUID | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        as_uuid = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
        return as_uuid if dialect.name == "postgresql" else str(as_uuid)

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None or isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(str(value))


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, uuid.UUID: GUID}


class TimestampMixin:
    """``created_at`` and ``updated_at``, set in Python so that every backend agrees."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# ---------------------------------------------------------------------------- engine, sessions


def create_engine(settings_or_url: Settings | str | URL) -> AsyncEngine:
    """An async engine for ``Settings.database_url`` (or a URL), tuned for its backend."""
    db = settings_or_url.db if isinstance(settings_or_url, Settings) else DbSettings()
    url = make_url(
        settings_or_url.database_url if isinstance(settings_or_url, Settings) else settings_or_url
    )
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_engine(url, echo=db.echo)
    if backend in _MYSQL and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return create_async_engine(url, echo=db.echo, pool_size=db.pool_size, pool_pre_ping=True)


def _create_sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        # The database (and its -wal and -shm files, which SQLite gives the same mode) is 0600.
        # A folder that already exists is the operator's (it may be /tmp): created 0700, never
        # tightened here; the data directory is tightened where the runtime makes it.
        folder = Path(database).parent
        folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        private_file(folder / Path(database).name)
    engine = create_async_engine(url, echo=echo, connect_args={"check_same_thread": False})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 driver, which would otherwise not BEGIN
        # before SELECT, DDL or SAVEPOINT (see SQLAlchemy's "Transactions with SQLite").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A transaction that reads and then writes must take the write lock up front: in WAL
        # mode a deferred one whose snapshot another writer has moved past fails at its first
        # write with "database is locked", without waiting (see ``write_session``).
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


WRITE_OPTION = "haechi_write"


async def write_session(session: AsyncSession) -> None:
    """Mark ``session``'s next transaction as one that will write (before its first query).

    On SQLite this begins it with ``BEGIN IMMEDIATE``, so that concurrent writers in one process
    (requests, jobs) wait for each other (up to the driver's busy timeout) instead of failing;
    elsewhere it changes nothing.
    """
    bind = session.bind
    # Only a session on an engine picks its connection (tests bind one to a connection).
    sqlite = isinstance(bind, AsyncEngine) and bind.dialect.name == "sqlite"
    if sqlite and not session.in_transaction():
        await session.connection(execution_options={WRITE_OPTION: True})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: after the request commits, reading an attribute must not start
    # implicit IO (which async sessions cannot do).
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine, *, timeout_s: float = 5.0) -> bool:
    """Whether the database answers ``SELECT 1`` within ``timeout_s`` seconds."""
    try:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception:
        return False
    return True


# ---------------------------------------------------------------------------- migrations


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration, built in code: the package's migrations, no ``alembic.ini``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url:
        # ConfigParser interpolates "%", which URL-encoded passwords contain.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``).

    Safe to run again (a no-op when current) and from several processes at once: PostgreSQL and
    MySQL take a lock for the duration; SQLite serialises writers itself.
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_head)
    finally:
        await engine.dispose()


def _upgrade_head(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    backend = connection.dialect.name
    if backend == "postgresql":
        # Released when the transaction ends.
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        command.upgrade(config, "head")
    elif backend in _MYSQL:
        # MySQL DDL commits implicitly, so the lock is a session lock, released explicitly.
        got = connection.scalar(
            sa.text("SELECT GET_LOCK(:name, 300)"), {"name": _MIGRATION_LOCK_NAME}
        )
        if got != 1:
            raise RuntimeError("timed out waiting for another migration to finish")
        try:
            command.upgrade(config, "head")
        finally:
            connection.execute(
                sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _MIGRATION_LOCK_NAME}
            )
    else:
        command.upgrade(config, "head")
