"""Shared stores: a plugin's key → JSON document store with compare-and-set, and blobs, on the queue's backend.

A target whose output is built from everything it ever published (the web target's site) keeps
that everything here: in ``<state_dir>`` on one machine, in the PostgreSQL queue for a fleet,
where every worker on every machine reads the same documents and blobs.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_core.errors import UsageError
from flywheel_core.publishing.blobs import BlobStore
from flywheel_core.publishing.backends import open_storage
from flywheel_core.publishing.storage import ANY, Document, QueueStorage

if TYPE_CHECKING:
    from flywheel_core.config import Config

__all__ = ["ANY", "Document", "SharedStore", "open_shared_store"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def open_shared_store(config: Config, name: str) -> SharedStore:
    """The shared store ``name`` (a plugin's or a target's name) on the backend ``config`` names.

    Close it (or use it as a context manager) when done. Reading a store that was never
    written creates nothing.
    """
    if not _NAME.match(name):
        raise UsageError(f"shared store name {name!r} must match {_NAME.pattern}")
    storage, blobs = open_storage(config)
    return SharedStore(name, storage, blobs)


class SharedStore:
    """Documents by key (JSON values, each write a new revision) and blobs by sha256.

    ``put(key, value, expect=...)`` is a compare-and-set: with ``expect=None`` it writes only
    if no document is there, with a revision only if the document is still at it; it returns
    the new revision, or None when someone else wrote first (read again and retry). Every
    machine using the same queue sees the same store.
    """

    def __init__(self, name: str, storage: QueueStorage, blobs: BlobStore) -> None:
        self.name = name
        self.storage = storage
        self.blobs = blobs
        self.location = f"{storage.location} (shared store {name!r})"

    def __enter__(self) -> SharedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection to the backend (``with open_shared_store(...)`` does it)."""
        self.storage.close()

    def get(self, key: str) -> Document | None:
        """The document under ``key`` (``.value``, ``.revision``), or None."""
        if not self.storage.exists():
            return None
        with self.storage.transaction(write=False) as tx:
            return tx.document(self.name, key)

    def items(self, prefix: str = "") -> list[Document]:
        """Every document whose key starts with ``prefix``, by key (byte order)."""
        if not self.storage.exists():
            return []
        with self.storage.transaction(write=False) as tx:
            return tx.documents(self.name, prefix)

    def put(self, key: str, value: Any, *, expect: int | None | Any = ANY) -> int | None:
        """Write ``value`` (JSON: dicts, lists, strings, numbers, booleans) under ``key``.

        ``expect``: :data:`ANY` (default) writes whatever is there; None only when no document
        is; a revision only when the document is still at it. Returns the new revision, or
        None when the condition did not hold.
        """
        if value is None:
            raise ValueError("a document cannot be None (delete() removes one)")
        return self._write(key, value, expect)

    def delete(self, key: str, *, expect: int | Any = ANY) -> bool:
        """Remove the document under ``key`` (if still at revision ``expect``); whether it was removed."""
        return self._write(key, None, expect) is not None

    def _write(self, key: str, value: Any, expect: Any) -> int | None:
        now = self.storage.now()
        with self.storage.transaction() as tx:
            return tx.put_document(self.name, key, value, expect, now)

    def revision(self) -> int:
        """Grows with every write to this store (0: never written): poll it to see a change."""
        if not self.storage.exists():
            return 0
        with self.storage.transaction(write=False) as tx:
            return tx.store_revision(self.name)

    def put_blob(self, data: bytes) -> str:
        """Store bytes once, by content; return their sha256."""
        return self.blobs.put(data)

    def blob(self, digest: str) -> bytes:
        """The bytes stored under ``digest`` (checked); ContentMissing when they are not there."""
        return self.blobs.get(digest)

    def blob_path(self, digest: str) -> Path:
        """A local file holding the blob: hard-link or copy it, never write to it."""
        return self.blobs.path(digest)

    def lock(self, name: str = "lock", timeout: float | None = None) -> AbstractContextManager[None]:
        """A lock one process holds at a time, on every machine using this store (released if
        its holder dies); LockTimeout after ``timeout`` seconds (default FLYWHEEL_LOCK_TIMEOUT, 120)."""
        return self.storage.lock(f"{self.name}.{name}", timeout)
