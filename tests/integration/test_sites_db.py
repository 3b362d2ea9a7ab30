"""Organisations and sites on real databases: SQLite, PostgreSQL and MariaDB, same test bodies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from haechi.core.db import Base, alembic_config, create_engine, migrate, ping, session_factory
from haechi.platform.sites import service
from haechi.platform.sites.models import Organisation, Site
from haechi.platform.sites.schemas import SiteCreate, SitePublic, SiteUpdate

pytestmark = pytest.mark.integration

PEPPER = b"integration-test-pepper-0123456789"
T0 = datetime(2030, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def site_data(**overrides: object) -> SiteCreate:
    fields: dict[str, object] = {"name": "Shop", "hostnames": ["shop.example.com"]}
    fields.update(overrides)
    return SiteCreate.model_validate(fields)


async def new_site(
    sessions: async_sessionmaker[AsyncSession], **overrides: object
) -> tuple[uuid.UUID, str, str]:
    """Create and commit a site; its id, sitekey and plaintext secret."""
    async with sessions() as session:
        org = await service.get_or_create_default_org(session)
        site, secret = await service.create(
            session, org=org, data=site_data(**overrides), pepper=PEPPER
        )
        await session.commit()
        return site.id, site.sitekey, secret


async def lookup(
    sessions: async_sessionmaker[AsyncSession], secret: str, now: datetime
) -> tuple[uuid.UUID, str] | None:
    async with sessions() as session:
        found = await service.get_by_secret_digest(
            session, digest=service.secret_digest(PEPPER, secret), now=now
        )
        return None if found is None else (found[0].id, found[1])


# ---------------------------------------------------------------------------- schema


def _schema_diff(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, Base.metadata))


async def test_migrate_twice_is_a_no_op_and_matches_the_models(database_url: str) -> None:
    await migrate(database_url)
    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            assert {"organisations", "sites", "alembic_version"} <= tables
            versions = (
                await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).all()
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert [v for (v,) in versions] == [head]
            # The hand-written migration and the models describe the same tables, indexes and
            # constraints (types are checked by the round-trip tests below).
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


async def test_ping(engine: AsyncEngine) -> None:
    assert await ping(engine)


async def test_ping_reports_an_unreachable_server() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    try:
        assert not await ping(engine, timeout_s=5)
    finally:
        await engine.dispose()


async def test_sqlite_gets_wal_and_foreign_keys(engine: AsyncEngine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(sa.text("PRAGMA foreign_keys"))).scalar() == 1


# ---------------------------------------------------------------------------- organisations


async def test_default_org_is_created_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        first = await service.get_or_create_default_org(session)
        await session.commit()
    async with sessions() as session:
        again = await service.get_or_create_default_org(session)
        count = await session.scalar(sa.select(sa.func.count()).select_from(Organisation))
    assert again.id == first.id
    assert again.slug == "default"
    assert count == 1


async def test_org_slug_is_unique(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        session.add(Organisation(name="A", slug="acme"))
        await session.commit()
    async with sessions() as session:
        session.add(Organisation(name="B", slug="acme"))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_rolled_back_outer_transaction_discards_savepoint_work(engine: AsyncEngine) -> None:
    """The test-isolation pattern of STYLE §10 holds on every backend, SQLite included."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
        await service.get_or_create_default_org(session)  # uses a savepoint itself
        await session.commit()
        await session.close()
        await outer.rollback()
    async with session_factory(engine)() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


# ---------------------------------------------------------------------------- sites


async def test_create_and_look_up(sessions: async_sessionmaker[AsyncSession]) -> None:
    site_id, sitekey, secret = await new_site(
        sessions, security_level="high", widget_mode="invisible"
    )
    assert secret.startswith("hs_")

    async with sessions() as session:
        site = await service.get_by_sitekey(session, sitekey=sitekey)
        assert site is not None
        assert site.id == site_id
        assert site.name == "Shop"
        assert site.security_level == "high"
        assert site.widget_mode == "invisible"
        assert site.active is True
        assert site.is_demo is False
        assert site.previous_secret_digest is None
        # Only the digest is stored, never the secret.
        assert site.secret_digest == service.secret_digest(PEPPER, secret)
        assert secret not in repr(site)
        assert (await service.get(session, site_id=site_id)) is site
        assert await service.get_by_sitekey(session, sitekey=sitekey.upper()) is None
        assert await service.get_by_sitekey(session, sitekey="hk_missing") is None
        public = SitePublic.model_validate(site)
        assert public.sitekey == sitekey

    assert await lookup(sessions, secret, T0) == (site_id, "current")
    assert await lookup(sessions, secret + "x", T0) is None
    assert await lookup(sessions, secret.swapcase(), T0) is None


async def test_secret_is_never_stored_in_plaintext(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, _, secret = await new_site(sessions)
    async with sessions() as session:
        rows = (await session.execute(sa.text("SELECT * FROM sites"))).all()
    assert rows
    assert all(secret not in str(value) for row in rows for value in row)


async def test_list_by_org(sessions: async_sessionmaker[AsyncSession]) -> None:
    first, _, _ = await new_site(sessions, name="One")
    second, _, _ = await new_site(sessions, name="Two")
    async with sessions() as session:
        other = Organisation(name="Other", slug="other")
        session.add(other)
        await session.flush()
        third, _ = await service.create(session, org=other, data=site_data(), pepper=PEPPER)
        await session.commit()
        default = await service.get_or_create_default_org(session)
        assert [s.id for s in await service.list(session, org=default)] == [first, second]
        assert [s.id for s in await service.list(session, org=other)] == [third.id]
        assert len(await service.list(session)) == 3


async def test_update_and_delete(sessions: async_sessionmaker[AsyncSession]) -> None:
    site_id, sitekey, secret = await new_site(sessions)
    async with sessions() as session:
        site = await service.get(session, site_id=site_id)
        assert site is not None
        created = site.created_at
        await service.update(
            session,
            site=site,
            data=SiteUpdate(name="Renamed", hostnames=["*.Example.org"], active=False),
        )
        await session.commit()
    async with sessions() as session:
        site = await service.get_by_sitekey(session, sitekey=sitekey)
        assert site is not None
        assert (site.name, site.hostnames, site.active) == ("Renamed", ["*.example.org"], False)
        assert site.security_level == "medium"  # not sent, not changed
        assert site.created_at == created
        assert site.updated_at >= created
        await service.delete(session, site=site)
        await session.commit()
    async with sessions() as session:
        assert await service.get_by_sitekey(session, sitekey=sitekey) is None
    assert await lookup(sessions, secret, T0) is None


async def test_services_do_not_commit(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        org = await service.get_or_create_default_org(session)
        site, _ = await service.create(session, org=org, data=site_data(), pepper=PEPPER)
        sitekey = site.sitekey
        await session.rollback()
    async with sessions() as session:
        assert await service.get_by_sitekey(session, sitekey=sitekey) is None
        assert await session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


async def test_deleting_an_org_deletes_its_sites(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, sitekey, _ = await new_site(sessions)
    async with sessions() as session:
        await session.execute(sa.delete(Organisation))
        await session.commit()
    async with sessions() as session:
        assert await service.get_by_sitekey(session, sitekey=sitekey) is None


async def test_foreign_key_is_enforced(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        ghost = Organisation(id=uuid.uuid4(), name="Ghost", slug="ghost")  # never added
        with pytest.raises(IntegrityError):
            await service.create(session, org=ghost, data=site_data(), pepper=PEPPER)


# ---------------------------------------------------------------------------- rotation


async def test_rotation_keeps_the_old_secret_for_the_grace_period(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    site_id, sitekey, old = await new_site(sessions)
    async with sessions() as session:
        site = await service.get_by_sitekey(session, sitekey=sitekey)
        assert site is not None
        new = await service.rotate_secret(
            session, site=site, pepper=PEPPER, grace_seconds=3600, now=T0
        )
        await session.commit()
    assert new != old

    assert await lookup(sessions, new, T0) == (site_id, "current")
    assert await lookup(sessions, old, T0) == (site_id, "previous")
    assert await lookup(sessions, old, T0 + timedelta(seconds=3599)) == (site_id, "previous")
    assert await lookup(sessions, old, T0 + timedelta(seconds=3600)) is None
    assert await lookup(sessions, old, T0 + timedelta(days=2)) is None
    assert await lookup(sessions, new, T0 + timedelta(days=2)) == (site_id, "current")
    # The same instant in another zone is the same instant.
    kst = timezone(timedelta(hours=9))
    assert await lookup(sessions, old, (T0 + timedelta(seconds=3599)).astimezone(kst)) == (
        site_id,
        "previous",
    )


async def test_second_rotation_inside_the_grace_replaces_the_previous_secret(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    site_id, sitekey, first = await new_site(sessions)
    async with sessions() as session:
        site = await service.get_by_sitekey(session, sitekey=sitekey)
        assert site is not None
        second = await service.rotate_secret(
            session, site=site, pepper=PEPPER, grace_seconds=3600, now=T0
        )
        third = await service.rotate_secret(
            session, site=site, pepper=PEPPER, grace_seconds=3600, now=T0 + timedelta(minutes=10)
        )
        await session.commit()

    later = T0 + timedelta(minutes=20)
    assert await lookup(sessions, first, later) is None
    assert await lookup(sessions, second, later) == (site_id, "previous")
    assert await lookup(sessions, third, later) == (site_id, "current")
    # The grace runs from the second rotation.
    assert await lookup(sessions, second, T0 + timedelta(minutes=69)) == (site_id, "previous")
    assert await lookup(sessions, second, T0 + timedelta(minutes=70)) is None


async def test_rotation_without_grace_ends_the_old_secret_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    site_id, sitekey, old = await new_site(sessions)
    async with sessions() as session:
        site = await service.get_by_sitekey(session, sitekey=sitekey)
        assert site is not None
        new = await service.rotate_secret(
            session, site=site, pepper=PEPPER, grace_seconds=0, now=T0
        )
        await session.commit()
        assert site.previous_secret_digest is None
    assert await lookup(sessions, old, T0) is None
    assert await lookup(sessions, new, T0) == (site_id, "current")


async def test_lookup_needs_an_aware_now(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="timezone-aware"):
            await service.get_by_secret_digest(session, digest="0" * 64, now=datetime(2030, 1, 1))


# ---------------------------------------------------------------------------- constraints


async def test_sitekey_is_unique(sessions: async_sessionmaker[AsyncSession]) -> None:
    _, taken, _ = await new_site(sessions)
    second_id, _, _ = await new_site(sessions)
    async with sessions() as session:
        second = await service.get(session, site_id=second_id)
        assert second is not None
        second.sitekey = taken
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_sitekeys_differing_only_in_case_are_distinct(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Base62 keys are case-sensitive on every backend (MySQL needs a binary collation)."""
    _, lower_key, _ = await new_site(sessions)
    other_id, _, _ = await new_site(sessions)
    upper_key = lower_key[:3] + lower_key[3:].swapcase()
    async with sessions() as session:
        other = await service.get(session, site_id=other_id)
        assert other is not None
        other.sitekey = upper_key
        await session.commit()
    async with sessions() as session:
        found = await service.get_by_sitekey(session, sitekey=upper_key)
        assert found is not None and found.id == other_id


async def test_security_level_is_checked_by_the_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    site_id, _, _ = await new_site(sessions)
    async with sessions() as session:
        # MariaDB reports a failed CHECK as OperationalError (4025), the others as IntegrityError.
        with pytest.raises(DBAPIError):
            await session.execute(
                sa.update(Site).where(Site.id == site_id).values(security_level="paranoid")
            )
            await session.commit()


async def test_the_test_level_is_stored_and_survives_a_round_of_migrations(
    database_url: str,
) -> None:
    """Head accepts ``test``; downgrading to 0001 turns test sites into ``medium`` and the old
    constraint refuses ``test`` again. (The old schema is read with SQL, not the models: later
    revisions add columns the models name.)"""
    from alembic import command

    def to(revision: str, down: bool = False) -> Callable[[sa.Connection], None]:
        def run(connection: sa.Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

        return run

    sites = sa.table("sites", sa.column("sitekey"), sa.column("security_level"))
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to("head"))
        sessions = session_factory(engine)
        site_id, sitekey, _ = await new_site(sessions)
        async with sessions() as session:
            site = await service.get(session, site_id=site_id)
            assert site is not None
            await service.update(
                session, site=site, data=SiteUpdate(security_level="test"), allow_test_level=True
            )
            await session.commit()
        async with sessions() as session:
            site = await service.get(session, site_id=site_id)
            assert site is not None and site.security_level == "test"
        async with engine.begin() as conn:
            await conn.run_sync(to("0001", down=True))
        async with engine.connect() as conn:
            level = await conn.scalar(
                sa.select(sites.c.security_level).where(sites.c.sitekey == sitekey)
            )
            assert level == "medium"
            with pytest.raises(DBAPIError):
                await conn.execute(
                    sa.update(sites).where(sites.c.sitekey == sitekey).values(security_level="test")
                )
                await conn.commit()
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------- round trips


async def test_hostnames_round_trip(sessions: async_sessionmaker[AsyncSession]) -> None:
    given = ["Shop.Example.com", "*.example.com", "Bücher.example", "[::1]", "localhost"]
    stored = ["shop.example.com", "*.example.com", "xn--bcher-kva.example", "::1", "localhost"]
    _, sitekey, _ = await new_site(sessions, hostnames=given)
    async with sessions() as session:
        site = await service.get_by_sitekey(session, sitekey=sitekey)
        assert site is not None
        assert site.hostnames == stored
        assert service.hostname_allowed(patterns=site.hostnames, hostname="a.b.example.com")
        assert not service.hostname_allowed(patterns=site.hostnames, hostname="example.com")


async def test_datetimes_round_trip_aware_in_utc(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    before = datetime.now(UTC)
    site_id, sitekey, _ = await new_site(sessions)
    kst = timezone(timedelta(hours=9))
    expires = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=kst)
    async with sessions() as session:
        site = await service.get(session, site_id=site_id)
        assert site is not None
        site.previous_secret_expires_at = expires
        await session.commit()
    async with sessions() as session:
        site = await service.get_by_sitekey(session, sitekey=sitekey)
        assert site is not None
        for value in (site.created_at, site.updated_at, site.previous_secret_expires_at):
            assert value is not None
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert site.previous_secret_expires_at == expires
        assert site.previous_secret_expires_at.hour == 18  # 03:04 KST is 18:04 UTC the day before
        assert site.previous_secret_expires_at.microsecond == 678901
        assert before <= site.created_at <= datetime.now(UTC)


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    site_id, _, _ = await new_site(sessions)
    async with sessions() as session:
        site = await service.get(session, site_id=site_id)
        assert site is not None
        site.previous_secret_expires_at = datetime(2031, 1, 1)
        with pytest.raises(StatementError, match="naive datetime"):
            await session.flush()


async def test_ids_round_trip_as_uuids(sessions: async_sessionmaker[AsyncSession]) -> None:
    site_id, _, _ = await new_site(sessions)
    async with sessions() as session:
        by_text = await session.scalar(sa.select(Site).where(Site.id == str(site_id)))
        assert by_text is not None
        assert isinstance(by_text.id, uuid.UUID) and by_text.id == site_id
        assert isinstance(by_text.org_id, uuid.UUID)
