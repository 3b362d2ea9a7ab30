"""Work that must wait for the request's (or job's) commit: enqueueing a mail job, telling the
edge that a site changed. Queued on the session; ``haechi.platform.deps.get_db`` runs it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

AFTER_COMMIT = "after_commit"


def after_commit(db: AsyncSession, callback: Callable[[], Awaitable[Any]]) -> None:
    db.info.setdefault(AFTER_COMMIT, []).append(callback)


async def commit(db: AsyncSession) -> None:
    """Commit, then run what waited for it (for code outside a request: CLI, jobs, tests)."""
    await db.commit()
    for callback in db.info.pop(AFTER_COMMIT, []):
        await callback()
