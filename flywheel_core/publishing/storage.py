"""The queue's rows and the storage interface every backend implements (SQLite now, PostgreSQL next)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Iterable, Protocol

import attrs

from flywheel_core.errors import FlywheelError

__all__ = [
    "PENDING",
    "STATUSES",
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


class QueueError(FlywheelError):
    """The queue's storage cannot be used as it is; the message names it and says what to do (exit 1)."""


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

    def claimable(self, target: str, now: float, local_host: str) -> list[QueueEntry]:
        """Candidates for a claim, in claim order (``seq``, then ``id``).

        Entries of ``target`` that are queued or failed and due at ``now``, and ``publishing``
        ones whose lease expired or whose owner runs on ``local_host`` (the caller checks
        whether that process still lives). PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two
        workers claiming at once never wait for, nor take, each other's rows.
        """
        ...

    def leased(self, target: str) -> list[QueueEntry]:
        """Entries of ``target`` that carry a lease (whatever their state), to keep slots busy."""
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
        was rewritten by someone else, and may not show the queue's state any more."""
        ...

    def set_session_file(self, path: str, stamp: str) -> None:
        """Remember the stamp of a session file flywheel has just brought up to date."""
        ...

    def counts(self) -> tuple[list[tuple[str, str, int]], float | None]:
        """``(target, status, number of entries)`` rows, and the oldest pending entry's creation time."""
        ...


class QueueStorage(Protocol):
    """Where the queue's rows live. The state machine is :class:`~flywheel_core.publishing.PublicationQueue`'s;
    a backend only stores rows, transactionally, and raises :class:`QueueError` naming itself."""

    #: Shown in messages: a file path, or a database URL without its password.
    location: str

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

    def close(self) -> None:
        ...
