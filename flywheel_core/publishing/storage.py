"""The queue's rows and the storage interface every backend implements (SQLite, PostgreSQL)."""

from __future__ import annotations

import socket
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Iterable, Protocol

import attrs

from flywheel_core.errors import FlywheelError

__all__ = [
    "ANY",
    "JSON_COLUMNS",
    "ContentMissing",
    "LOCAL_HOST",
    "PENDING",
    "SCHEMA_VERSION",
    "STATUSES",
    "TABLES",
    "Document",
    "NewEntry",
    "QueueEntry",
    "QueueError",
    "QueueStorage",
    "StorageTransaction",
    "iso",
]

#: Every state an entry can be in. ``queued`` and ``failed`` wait for ``next_attempt_at``;
#: ``publishing`` is leased to one publisher; ``dead`` waits for a person (``flywheel queue retry``);
#: ``superseded`` lost to a newer version of the same artifact before it was published;
#: ``held`` waits for a person too (the publishing scan found something, or the target reviews
#: everything: ``flywheel review approve|reject``); ``rejected``: a person said never.
STATUSES = ("queued", "publishing", "published", "failed", "dead", "superseded", "held", "rejected")
#: States a publisher may still act on.
PENDING = ("queued", "failed", "publishing")
#: The version of the queue's schema, the same on every backend: version N has the same tables
#: and columns in SQLite and in PostgreSQL (4: ``items.findings``; 5: ``items.session_host``,
#: ``session_files.host``, ``documents``).
SCHEMA_VERSION = 5
#: Columns holding JSON (TEXT in SQLite, jsonb in PostgreSQL).
JSON_COLUMNS = ("files", "meta", "receipt", "progress", "findings", "value")
#: The tables ``flywheel queue export`` copies, in the order ``import`` needs them.
TABLES = ("items", "session_files", "documents")
#: This machine's name: the first part of every lease owner it writes, and the host its session
#: files are on (a shared queue mirrors into a session file only on the machine that has it).
LOCAL_HOST = socket.gethostname()


class QueueError(FlywheelError):
    """The queue's storage cannot be used as it is; the message names it and says what to do (exit 1)."""


class ContentMissing(QueueError):
    """Enqueued bytes are gone or altered: no retry can bring them back."""


def iso(ts: float | None) -> str | None:
    """A stored time (seconds since the epoch) as ``2025-12-02T05:20:00Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@attrs.define
class QueueEntry:
    """One row: an artifact version bound for one target, and what became of it.

    ``key`` (a hash of target, session, kind and content) is the entry's identity; ``id`` is
    only a handle for people and commands. ``attempts`` counts the tries a target answered or
    is answering now; ``interruptions`` the tries whose publisher died before it could record
    an answer (a killed process is no evidence that the item is bad). ``revision`` grows with
    every change of state, and ``mirrored`` is the revision last written into the session
    file (0: never), so a session file that does not show its entries' state is found and mended.
    A lease is (``lease_owner``, ``lease_until``): it expires by time, whoever held it.
    ``session_host`` is the machine ``session_path`` is on.

    ``sha256`` is the hash of the artifact's main file as it was generated (the version the
    session file records), even when the stored files are a redacted copy; ``files`` maps each
    file name to the hash of the bytes stored and published. ``findings`` is what the
    publishing scan decided (see :mod:`flywheel_core.publishing.screening`): the policy, the
    masked findings, why the entry is held, and a person's approval; None when not scanned.
    """

    id: int
    key: str
    target: str
    session_id: str
    session_type: str
    kind: str
    ext: str
    sha256: str
    seq: int
    files: dict[str, str]
    meta: dict[str, Any]
    session_path: str | None
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: float
    lease_owner: str | None
    lease_until: float | None
    receipt: dict[str, Any] | None
    created_at: float
    updated_at: float
    published_at: float | None
    progress: dict[str, Any] | None = None
    interruptions: int = 0
    revision: int = 1
    mirrored: int = 0
    artifact_path: str | None = None
    findings: dict[str, Any] | None = None
    session_host: str | None = None

    @property
    def slot(self) -> tuple[str, str, str]:
        """(target, session id, kind): the versions of one artifact at one target."""
        return (self.target, self.session_id, self.kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "target": self.target,
            "session_id": self.session_id,
            "session_type": self.session_type,
            "kind": self.kind,
            "sha256": self.sha256,
            "status": self.status,
            "attempts": self.attempts,
            "interruptions": self.interruptions,
            "last_error": self.last_error,
            "next_attempt_at": iso(self.next_attempt_at) if self.status in ("queued", "failed") else None,
            "lease_until": iso(self.lease_until) if self.status == "publishing" else None,
            "receipt": self.receipt,
            "progress": self.progress,
            "files": sorted(self.files),
            "session_path": self.session_path,
            "created_at": iso(self.created_at),
            "published_at": iso(self.published_at),
            "scan": self.findings,
        }


@attrs.frozen
class NewEntry:
    """The columns of a row being inserted (the rest start empty)."""

    key: str
    target: str
    session_id: str
    session_type: str
    kind: str
    ext: str
    sha256: str
    seq: int
    files: dict[str, str]
    meta: dict[str, Any]
    session_path: str | None
    artifact_path: str | None
    now: float
    session_host: str | None = None


@attrs.frozen
class Document:
    """One document of a shared store: its key, its JSON value, and the revision it was written at."""

    key: str
    value: Any
    revision: int


class StorageTransaction(Protocol):
    """Reads and writes inside one transaction of a :class:`QueueStorage`.

    Every method sees the transaction's own writes. In a write transaction, rows a method
    returns may be updated before the commit without anyone else changing them meanwhile
    (SQLite: one writer at a time; PostgreSQL: ``SELECT ... FOR UPDATE``).
    """

    def get(self, entry_id: int) -> QueueEntry | None:
        """The entry with this id."""
        ...

    def find_key(self, key: str) -> QueueEntry | None:
        """The entry with this idempotency key (keys are unique)."""
        ...

    def versions(self, target: str, session_id: str, kind: str) -> list[QueueEntry]:
        """Every version of one artifact at one target, oldest (lowest ``seq``) first."""
        ...

    def claimable(
        self, target: str, now: float, local_host: str, *, limit: int, after: tuple[int, int] | None = None,
        leased: bool = False,
    ) -> list[QueueEntry]:
        """Candidates for a claim, in claim order (``seq``, then ``id``): at most ``limit``,
        those after ``(seq, id)`` = ``after`` (the last of the previous page).

        Entries of ``target`` that are queued or failed and due at ``now``; with ``leased``,
        instead, the ``publishing`` ones whose lease expired or whose owner runs on
        ``local_host`` (the caller checks whether that process still lives). PostgreSQL:
        ``FOR UPDATE SKIP LOCKED``, so two workers claiming at once never wait for, nor take,
        each other's rows.
        """
        ...

    def leased(self, target: str) -> list[QueueEntry]:
        """Entries of ``target`` that carry a lease (whatever their state), to keep slots busy.
        Read without locking them: a slot only has to look busy."""
        ...

    def next_due(self, targets: Iterable[str]) -> float | None:
        """The earliest time an entry of ``targets`` becomes claimable (a due time or a lease
        expiry), None when nothing is pending: how long an idle worker may sleep."""
        ...

    def select(
        self,
        *,
        ids: Iterable[int] | None = None,
        statuses: Iterable[str] | None = None,
        targets: Iterable[str] | None = None,
        session_path: str | None = None,
        unmirrored: bool = False,
    ) -> list[QueueEntry]:
        """Entries matching every filter given, by id. ``unmirrored``: those with a session file
        whose last written state (``mirrored``) is older than their ``revision``."""
        ...

    def insert(self, entry: NewEntry) -> int:
        """Add a row in state ``queued``, due at ``entry.now``; return its id."""
        ...

    def update(self, entry_id: int, changes: dict[str, Any], *, now: float, state: bool = True) -> None:
        """Set columns of one row (JSON columns take Python values) and ``updated_at``.

        ``state``: the change is one a session file shows (status, receipt, error, attempts),
        so ``revision`` grows; a lease renewal or a checkpoint passes False.
        """
        ...

    def mark_mirrored(self, marks: Iterable[tuple[int, int]]) -> None:
        """Record that revision r of entry i is what its session file shows: ``(i, r)`` pairs;
        a row changed since (another revision) stays unmirrored."""
        ...

    def session_files(self) -> dict[str, str]:
        """Every session file an entry records its outcome in, with the stamp (inode, size, mtime)
        it had when flywheel last wrote or checked it ("" when never): a file whose stamp changed
        was rewritten by someone else, and may not show the queue's state any more. A shared
        backend answers only with this machine's files (``session_host``)."""
        ...

    def set_session_file(self, path: str, stamp: str) -> None:
        """Remember the stamp of a session file flywheel has just brought up to date."""
        ...

    def counts(self) -> tuple[list[tuple[str, str, int]], float | None]:
        """``(target, status, number of entries)`` rows, and the oldest pending entry's creation time."""
        ...

    # -- shared stores: documents by (store, key) --------------------------------------------

    def document(self, store: str, key: str) -> Document | None:
        """The live document under ``key`` (a deleted one is None)."""
        ...

    def documents(self, store: str, prefix: str = "") -> list[Document]:
        """Every live document of ``store`` whose key starts with ``prefix``, by key."""
        ...

    def put_document(self, store: str, key: str, value: Any, expect: int | None | object, now: float) -> int | None:
        """Write ``value`` (None deletes) under ``key`` and return its new revision.

        ``expect``: :data:`ANY` writes whatever is there; None only if no live document is;
        a revision only if the document is still at it. None is returned when it was not.
        """
        ...

    def store_revision(self, store: str) -> int:
        """The revision of the latest write to ``store`` (0: never written): it grows with every change."""
        ...

    # -- moving a queue between backends -----------------------------------------------------

    def dump(self, table: str) -> Iterable[dict[str, Any]]:
        """Every row of one of :data:`TABLES`, column by column, JSON columns decoded."""
        ...

    def load(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows as :meth:`dump` gives them (ids kept); return how many."""
        ...


class _Any:
    def __repr__(self) -> str:
        return "ANY"


#: ``expect`` of a write that does not care what is there.
ANY: Any = _Any()


class QueueStorage(Protocol):
    """Where the queue's rows live. The state machine is :class:`~flywheel_core.publishing.PublicationQueue`'s;
    a backend only stores rows, transactionally, and raises :class:`QueueError` naming itself."""

    #: Shown in messages: a file path, or a database URL without its password.
    location: str
    #: Whether other machines use the same rows (PostgreSQL): session files are then mirrored
    #: only by the machine they are on.
    shared: bool

    def exists(self) -> bool:
        """Whether the queue was ever created (reading a missing queue must not create it)."""
        ...

    def now(self) -> float:
        """The queue's clock, seconds since the epoch: every due time and lease expiry is on it.
        A shared backend answers with the database server's clock, so machines whose own clocks
        differ still agree on when a lease has expired."""
        ...

    def transaction(self, *, write: bool = True) -> AbstractContextManager[StorageTransaction]:
        """A transaction, committed when the block ends, rolled back if it raises. Write
        transactions of concurrent processes are serialised or row-locked: a row read in one
        is never changed by another before it commits."""
        ...

    def clone(self) -> QueueStorage:
        """A second connection to the same queue, for another thread (lease renewal)."""
        ...

    def migrate(self) -> tuple[int, int]:
        """Create or upgrade the schema; return (the version before, the version now; 0: none)."""
        ...

    def lock(self, name: str, timeout: float | None = None) -> AbstractContextManager[None]:
        """A lock that one process holds at a time among all that use this queue (every machine,
        on a shared backend), released if its holder dies; LockTimeout after ``timeout`` seconds."""
        ...

    def notify(self, target: str) -> None:
        """Wake workers waiting in :meth:`wait` (entries of ``target`` became due)."""
        ...

    def wait(self, timeout: float) -> None:
        """Sleep until :meth:`notify` is called anywhere or ``timeout`` seconds pass
        (SQLite: a short poll)."""
        ...

    def close(self) -> None:
        ...
