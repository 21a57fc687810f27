"""Publishing: the durable queue of artifact versions per target, and the publisher that drains it.

Modules, from the bottom up: ``storage`` (rows and the storage interface), ``sqlite`` (the only
module that talks to SQLite), ``blobs`` (content by hash), ``leases`` (who holds an entry),
``crash`` (test-only crash points), ``backends`` (which storage a configuration names), ``queue`` (the API and state machine),
``screening`` (the publishing scan's policies), ``targets``,
``mirror`` (session files show the queue), ``shared`` (plugins' stores on the same backend),
``enqueue``, ``publisher`` and ``worker``; ``postgres`` (the only module that talks to
PostgreSQL) serves a fleet.

Names are loaded on first use (as in :mod:`flywheel_core`): a ``flywheel run`` that enqueues
nothing never imports the publishing scan, its rules or the publisher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flywheel_core.lazyexports import lazy_exports

_LAZY = {
    "BlobStore": "flywheel_core.publishing.blobs",
    "ContentMissing": "flywheel_core.publishing.blobs",
    "FileBlobStore": "flywheel_core.publishing.blobs",
    "ArtifactVersion": "flywheel_core.publishing.enqueue",
    "enqueue_file": "flywheel_core.publishing.enqueue",
    "enqueue_versions": "flywheel_core.publishing.enqueue",
    "session_meta": "flywheel_core.publishing.enqueue",
    "mend_session_files": "flywheel_core.publishing.mirror",
    "sync_session_file": "flywheel_core.publishing.mirror",
    "PublishOutcome": "flywheel_core.publishing.publisher",
    "PublishReport": "flywheel_core.publishing.publisher",
    "publish": "flywheel_core.publishing.publisher",
    "CRASH_POINTS": "flywheel_core.publishing.crash",
    "PublicationQueue": "flywheel_core.publishing.queue",
    "crash_point": "flywheel_core.publishing.crash",
    "idempotency_key": "flywheel_core.publishing.queue",
    "open_queue": "flywheel_core.publishing.queue",
    "ScanPolicy": "flywheel_core.publishing.screening",
    "Screening": "flywheel_core.publishing.screening",
    "held_lines": "flywheel_core.publishing.screening",
    "scan_lines": "flywheel_core.publishing.screening",
    "SharedStore": "flywheel_core.publishing.shared",
    "open_shared_store": "flywheel_core.publishing.shared",
    "SqliteStorage": "flywheel_core.publishing.sqlite",
    "NewEntry": "flywheel_core.publishing.storage",
    "PENDING": "flywheel_core.publishing.storage",
    "QueueEntry": "flywheel_core.publishing.storage",
    "QueueError": "flywheel_core.publishing.storage",
    "QueueStorage": "flywheel_core.publishing.storage",
    "SCHEMA_VERSION": "flywheel_core.publishing.storage",
    "STATUSES": "flywheel_core.publishing.storage",
    "StorageTransaction": "flywheel_core.publishing.storage",
    "iso": "flywheel_core.publishing.storage",
    "call_target": "flywheel_core.publishing.targets",
    "check_target": "flywheel_core.publishing.targets",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports('flywheel_core.publishing', _LAZY, globals())


if TYPE_CHECKING:
    from flywheel_core.publishing.blobs import BlobStore, ContentMissing, FileBlobStore
    from flywheel_core.publishing.enqueue import ArtifactVersion, enqueue_file, enqueue_versions, session_meta
    from flywheel_core.publishing.mirror import mend_session_files, sync_session_file
    from flywheel_core.publishing.publisher import PublishOutcome, PublishReport, publish
    from flywheel_core.publishing.crash import CRASH_POINTS, crash_point
    from flywheel_core.publishing.queue import PublicationQueue, idempotency_key, open_queue
    from flywheel_core.publishing.screening import ScanPolicy, Screening, held_lines, scan_lines
    from flywheel_core.publishing.shared import SharedStore, open_shared_store
    from flywheel_core.publishing.sqlite import SqliteStorage
    from flywheel_core.publishing.storage import (
        PENDING,
        SCHEMA_VERSION,
        STATUSES,
        NewEntry,
        QueueEntry,
        QueueError,
        QueueStorage,
        StorageTransaction,
        iso,
    )
    from flywheel_core.publishing.targets import call_target, check_target
