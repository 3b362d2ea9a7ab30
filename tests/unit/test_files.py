"""The data directory and the SQLite database are readable by their owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import sqlalchemy as sa

from haechi.core.db import create_engine
from haechi.core.files import private_dir, private_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_directory_and_file_are_private(tmp_path: Path) -> None:
    folder = private_dir(tmp_path / "a" / "data")
    assert mode(folder) == 0o700
    assert mode(private_file(folder / "x.db")) == 0o600


def test_existing_open_ones_are_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o755)
    file = folder / "x.db"
    file.write_bytes(b"kept")
    file.chmod(0o644)
    private_file(private_dir(folder) / "x.db")
    assert (mode(folder), mode(file)) == (0o700, 0o600)
    assert file.read_bytes() == b"kept"


async def test_the_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'haechi.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        assert mode(tmp_path / "data") == 0o700
        files = list((tmp_path / "data").iterdir())
        assert files and all(mode(f) == 0o600 for f in files), [
            (f.name, oct(mode(f))) for f in files
        ]
    finally:
        await engine.dispose()


async def test_an_existing_shared_folder_is_left_open(tmp_path: Path) -> None:
    """A database placed in a folder the operator already has (say /tmp) must not close it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    engine = create_engine(f"sqlite+aiosqlite:///{shared / 'haechi.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        assert mode(shared) == 0o1777
        assert mode(shared / "haechi.db") == 0o600
    finally:
        await engine.dispose()


def test_a_sticky_folder_is_never_tightened(tmp_path: Path) -> None:
    shared = tmp_path / "sticky"
    shared.mkdir()
    shared.chmod(0o1777)
    private_dir(shared)
    assert mode(shared) == 0o1777
