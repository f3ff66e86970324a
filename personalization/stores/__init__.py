"""Where profiles, the model and decisions live: one interface per caller, two stores.

:func:`open_store` picks Redis when ``settings.personalization.redis_url`` is set, else the
embedded SQLite store under ``<state>/personalization/``. Both raise :class:`StoreError` (or
their driver's error, also listed in :data:`STORE_ERRORS`) when they cannot be used.
"""

from __future__ import annotations

import sqlite3

import redis

from personalization.stores.base import (
    Checkpoint,
    CheckpointStore,
    DecisionLogStore,
    DecisionStore,
    ErasureStore,
    GraphCounts,
    ModelSnapshot,
    ReportStore,
    SaveResult,
    Store,
    StoreConnection,
    StoreError,
    WorkerCheckpoint,
)
from tracker.settings import Settings

STORE_ERRORS: tuple[type[BaseException], ...] = (StoreError, redis.RedisError, sqlite3.Error)


def open_store(settings: Settings) -> Store:
    """The configured store. Redis connects on first use; the embedded store creates its
    files (and tables) here."""
    section = settings.personalization
    if section.redis_url:
        from personalization.stores.redis_store import RedisStore

        return RedisStore(section.redis_url, section.redis_prefix)
    from personalization.stores.embedded import EmbeddedStore

    return EmbeddedStore(settings.state_dir / "personalization")


__all__ = [
    "STORE_ERRORS",
    "Checkpoint",
    "CheckpointStore",
    "DecisionLogStore",
    "DecisionStore",
    "ErasureStore",
    "GraphCounts",
    "ModelSnapshot",
    "ReportStore",
    "SaveResult",
    "Store",
    "StoreConnection",
    "StoreError",
    "WorkerCheckpoint",
    "open_store",
]
