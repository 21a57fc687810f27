"""Which storage a configuration names: SQLite and files in the state folder, or PostgreSQL for a fleet."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.publishing.blobs import BlobStore
    from flywheel_core.publishing.storage import QueueStorage

__all__ = ["open_storage", "storage_may_exist"]


def open_storage(config: Config, *, pool_size: int | None = None) -> tuple[QueueStorage, BlobStore]:
    """The storage and blob store a configuration names: ``[queue] url`` (PostgreSQL: rows and
    blobs in the database, a cache of blobs in the state folder), else ``<state_dir>/queue.sqlite3``
    and ``<state_dir>/blobs``. ``pool_size``: connections shared by a worker's threads."""
    settings = config.queue
    if settings.get("url"):
        from flywheel_core.publishing.postgres import PostgresBlobStore, PostgresStorage

        storage = PostgresStorage(settings["url"], password=settings.get("password"), pool_size=pool_size)
        return storage, PostgresBlobStore(storage, config.state_dir / "cache" / "blobs")
    # Imported here: a run that finds no queue (storage_may_exist) loads no backend at all.
    from flywheel_core.publishing.blobs import FileBlobStore
    from flywheel_core.publishing.sqlite import SqliteStorage

    return SqliteStorage(config.state_dir / "queue.sqlite3"), FileBlobStore(config.state_dir / "blobs")


def storage_may_exist(config: Config) -> bool:
    """False only when the storage ``config`` names surely holds nothing: no ``[queue] url`` and
    no ``<state_dir>/queue.sqlite3`` (what ``SqliteStorage.exists`` checks), without opening it."""
    return bool(config.queue.get("url")) or os.path.lexists(config.state_dir / "queue.sqlite3")
