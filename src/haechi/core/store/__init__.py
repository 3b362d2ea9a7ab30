"""Ephemeral store factory."""

from __future__ import annotations

from haechi.core.settings import StoreSettings
from haechi.core.store.base import RateDecision, StaleEpoch, Store, StoreUnavailable

__all__ = ["RateDecision", "StaleEpoch", "Store", "StoreUnavailable", "create_store"]


def create_store(settings: StoreSettings) -> Store:
    if settings.is_memory:
        from haechi.core.store.memory import MemoryStore

        return MemoryStore()
    from haechi.core.store.redis import RedisStore

    return RedisStore.from_url(settings.url, key_prefix=settings.key_prefix)
