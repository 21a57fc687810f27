"""Publishing: the durable queue of artifact versions per target, and the publisher that drains it.

Modules, from the bottom up: ``storage`` (rows and the storage interface), ``sqlite`` (the only
module that talks to SQLite), ``blobs`` (content by hash), ``leases`` (who holds an entry),
``queue`` (the API and state machine), ``screening`` (the publishing scan's policies), ``targets``,
``mirror`` (session files show the queue), ``shared`` (plugins' stores on the same backend),
``enqueue``, ``publisher`` and ``worker``; ``postgres`` (the only module that talks to
PostgreSQL) serves a fleet.
"""

from __future__ import annotations

from flywheel_core.publishing.blobs import BlobStore, ContentMissing, FileBlobStore
from flywheel_core.publishing.enqueue import ArtifactVersion, enqueue_file, enqueue_versions, session_meta
from flywheel_core.publishing.mirror import mend_session_files, sync_session_file
from flywheel_core.publishing.publisher import PublishOutcome, PublishReport, publish
from flywheel_core.publishing.queue import (
    CRASH_POINTS,
    PublicationQueue,
    crash_point,
    idempotency_key,
    open_queue,
)
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

__all__ = [
    "CRASH_POINTS",
    "PENDING",
    "SCHEMA_VERSION",
    "STATUSES",
    "ArtifactVersion",
    "BlobStore",
    "ContentMissing",
    "FileBlobStore",
    "NewEntry",
    "PublicationQueue",
    "PublishOutcome",
    "PublishReport",
    "QueueEntry",
    "QueueError",
    "QueueStorage",
    "ScanPolicy",
    "Screening",
    "SharedStore",
    "SqliteStorage",
    "StorageTransaction",
    "call_target",
    "check_target",
    "crash_point",
    "enqueue_file",
    "enqueue_versions",
    "held_lines",
    "idempotency_key",
    "iso",
    "mend_session_files",
    "open_queue",
    "open_shared_store",
    "publish",
    "scan_lines",
    "session_meta",
    "sync_session_file",
]
