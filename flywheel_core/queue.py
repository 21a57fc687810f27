"""The publication queue: SQLite rows per (artifact version, target), content-addressed blobs, publishing."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import sqlite3
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import attrs

from flywheel_core.errors import FlywheelError, InputError, UsageError
from flywheel_core.fsutil import atomic_write, sha256_bytes
from flywheel_core.redaction import redact
from flywheel_core.types import NAME_RE, PublishItem, PublishResult

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.models import Session
    from flywheel_core.pipeline import SessionResult
    from flywheel_core.plugins import PluginHost

__all__ = [
    "STATUSES",
    "PublicationQueue",
    "PublishOutcome",
    "QueueEntry",
    "check_target",
    "enqueue_file",
    "enqueue_result",
    "publish",
]

log = logging.getLogger("flywheel.queue")

STATUSES = ("queued", "publishing", "published", "failed", "dead", "superseded")
SCHEMA_VERSION = 2
_MIGRATIONS = {
    1: """
    CREATE TABLE items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        target TEXT NOT NULL,
        session_id TEXT NOT NULL,
        session_type TEXT NOT NULL,
        kind TEXT NOT NULL,
        ext TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        seq INTEGER NOT NULL,
        files TEXT NOT NULL,
        meta TEXT NOT NULL,
        session_path TEXT,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at REAL NOT NULL,
        lease_owner TEXT,
        lease_until REAL,
        receipt TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        published_at REAL
    );
    CREATE INDEX items_due ON items (target, status, next_attempt_at);
    CREATE INDEX items_slot ON items (target, session_id, kind, seq);
    """,
    # What a target checkpointed while publishing an entry in several steps (a thread's parts).
    2: "ALTER TABLE items ADD COLUMN progress TEXT",
}
#: Only this process's own crash tests set it: the publisher SIGKILLs itself at the named step.
CRASH_ENV = "FLYWHEEL_TEST_CRASH_AT"
_OWNER_HOST = socket.gethostname()
_COLUMNS = (
    "id key target session_id session_type kind ext sha256 seq files meta session_path status attempts "
    "last_error next_attempt_at lease_owner lease_until receipt created_at updated_at published_at progress"
).split()


def _crash_point(step: str) -> None:
    """Test-only: die like ``kill -9`` at ``step`` when FLYWHEEL_TEST_CRASH_AT names it."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@attrs.define
class QueueEntry:
    """One row of the queue: an artifact version bound for one target, and what became of it."""

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

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> QueueEntry:
        data = dict(zip(_COLUMNS, row))
        for name in ("files", "meta", "receipt", "progress"):
            if data[name] is not None:
                data[name] = json.loads(data[name])
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "session_id": self.session_id,
            "session_type": self.session_type,
            "kind": self.kind,
            "sha256": self.sha256,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "next_attempt_at": iso(self.next_attempt_at) if self.status in ("queued", "failed") else None,
            "lease_until": iso(self.lease_until) if self.status == "publishing" else None,
            "receipt": self.receipt,
            "progress": self.progress,
            "files": sorted(self.files),
            "session_path": self.session_path,
            "created_at": iso(self.created_at),
            "published_at": iso(self.published_at),
        }


def _owner_alive(owner: str | None) -> bool:
    """Whether the publisher holding a lease may still be running (a dead local pid is not)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != _OWNER_HOST or not pid.isdigit():
        return True  # another machine: only the lease's expiry can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but not been reaped yet (kill(pid, 0) still succeeds on it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): trust kill()
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _version_digest(files: dict[str, str]) -> str:
    return sha256_bytes("".join(f"{name}\0{sha}\n" for name, sha in sorted(files.items())).encode())


def idempotency_key(target: str, session_id: str, kind: str, content_sha: str) -> str:
    """sha256 of target + session id + kind + the content's hash: one row per version and target."""
    return sha256_bytes("\0".join((target, session_id, kind, content_sha)).encode())


class PublicationQueue:
    """The durable queue at ``<state_dir>/queue.sqlite3`` plus its blob store ``<state_dir>/blobs``.

    WAL mode and ``BEGIN IMMEDIATE`` around every read-modify-write let many processes enqueue
    and publish at once; the busy timeout makes them wait for each other instead of failing.
    """

    def __init__(self, state_dir: Path, settings: dict[str, Any] | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / "queue.sqlite3"
        self.blob_dir = self.state_dir / "blobs"
        self.settings = {
            "max_attempts": 8,
            "lease_seconds": 300.0,
            "backoff_seconds": 30.0,
            "backoff_max_seconds": 3600.0,
            **(settings or {}),
        }
        self.owner = f"{_OWNER_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._db: sqlite3.Connection | None = None

    @classmethod
    def for_config(cls, config: Config) -> PublicationQueue:
        return cls(config.state_dir, config.queue)

    # -- connection and schema ------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._connect()
        return self._db

    def _connect(self) -> sqlite3.Connection:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            db.execute("PRAGMA busy_timeout = 60000")
            # Switching to WAL needs a moment of exclusive access; another process doing the
            # same at the same time is not an error, it has simply done it for us.
            for _ in range(50):
                try:
                    db.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.05)
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate(db)
        except sqlite3.DatabaseError as exc:
            raise FlywheelError(
                f"{self.path}: the publication queue cannot be opened ({exc}); "
                "it was left untouched: move it aside to start a new queue"
            ) from None
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise FlywheelError(f"{self.path}: made by a newer flywheel (schema {version}); upgrade flywheel-core")
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> PublicationQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)

    def _select(self, where: str = "1", args: Iterable[Any] = ()) -> list[QueueEntry]:
        rows = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM items WHERE {where} ORDER BY id", tuple(args))
        return [QueueEntry.from_row(r) for r in rows]

    # -- blobs ----------------------------------------------------------------------------

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` under its sha256 (once; atomically) and return the hash."""
        digest = sha256_bytes(data)
        path = self.blob_dir / digest
        if not path.is_file() or path.stat().st_size != len(data):
            atomic_write(path, data)
        return digest

    def get_blob(self, digest: str) -> bytes:
        try:
            data = (self.blob_dir / digest).read_bytes()
        except FileNotFoundError:
            raise FlywheelError(f"content {digest[:12]} is missing from {self.blob_dir}") from None
        if sha256_bytes(data) != digest:
            raise FlywheelError(f"content {digest[:12]} in {self.blob_dir} is corrupt")
        return data

    # -- enqueueing -----------------------------------------------------------------------

    def enqueue(
        self,
        *,
        target: str,
        session_id: str,
        session_type: str,
        kind: str,
        ext: str,
        files: dict[str, bytes],
        meta: dict[str, Any],
        session_path: str | None = None,
    ) -> tuple[QueueEntry, bool]:
        """Add one artifact version for ``target``; return (its row, whether anything changed).

        The same version twice is a no-op. A new version supersedes every older one of the same
        (session, kind, target) that is not yet published, so an old version is never
        published after a newer one; re-enqueueing an older version makes it the newest again.
        """
        main = f"{kind}.{ext}"
        if main not in files:
            raise UsageError(f"artifact {kind!r} has no main file {main!r}")
        blobs = {name: self.put_blob(data) for name, data in sorted(files.items())}
        key = idempotency_key(target, session_id, kind, _version_digest(blobs))
        now = time.time()
        with self._tx() as db:
            existing = self._one(db, "key = ?", (key,))
            latest = self._one(db, "target = ? AND session_id = ? AND kind = ? ORDER BY seq DESC LIMIT 1",
                               (target, session_id, kind))
            if existing is not None and latest is not None and existing.id == latest.id:
                if existing.status in ("queued", "failed") and session_path and not existing.session_path:
                    db.execute("UPDATE items SET session_path = ? WHERE id = ?", (session_path, existing.id))
                return existing, False
            seq = (latest.seq + 1) if latest is not None else 1
            if existing is not None:
                db.execute(
                    "UPDATE items SET status = 'queued', seq = ?, attempts = 0, last_error = NULL, "
                    "next_attempt_at = ?, receipt = NULL, published_at = NULL, progress = NULL, meta = ?, "
                    "session_path = ?, "
                    "updated_at = ? WHERE id = ?",
                    (seq, now, json.dumps(meta), session_path, now, existing.id),
                )
                row_id = existing.id
            else:
                cur = db.execute(
                    "INSERT INTO items (key, target, session_id, session_type, kind, ext, sha256, seq, files, "
                    "meta, session_path, status, attempts, next_attempt_at, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?)",
                    (key, target, session_id, session_type, kind, ext, blobs[main], seq, json.dumps(blobs),
                     json.dumps(meta), session_path, now, now, now),
                )
                row_id = cur.lastrowid
            db.execute(
                "UPDATE items SET status = 'superseded', updated_at = ? WHERE target = ? AND session_id = ? "
                "AND kind = ? AND id != ? AND status IN ('queued', 'failed', 'dead', 'publishing')",
                (now, target, session_id, kind, row_id),
            )
            return self._one(db, "id = ?", (row_id,)), True

    @staticmethod
    def _one(db: sqlite3.Connection, where: str, args: tuple) -> QueueEntry | None:
        row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM items WHERE {where}", args).fetchone()
        return QueueEntry.from_row(row) if row else None

    # -- publishing -----------------------------------------------------------------------

    def due(self, target: str | None = None, now: float | None = None) -> list[QueueEntry]:
        """What a publisher would claim now (nothing is changed)."""
        now = time.time() if now is None else now
        where, args = "status IN ('queued', 'failed', 'publishing')", []
        if target is not None:
            where, args = where + " AND target = ?", [target]
        entries = self._select(where, args)
        busy = self._busy_slots(self.db, now)
        return [e for e in entries if self._claimable(e, now) and (e.target, e.session_id, e.kind) not in busy]

    def _claimable(self, entry: QueueEntry, now: float) -> bool:
        if entry.status == "publishing":
            return (entry.lease_until or 0) <= now or not _owner_alive(entry.lease_owner)
        return entry.next_attempt_at <= now

    def _busy_slots(self, db: sqlite3.Connection, now: float) -> set[tuple[str, str, str]]:
        """Slots where some version is being published right now by a live publisher."""
        rows = db.execute(
            "SELECT target, session_id, kind, lease_owner, lease_until FROM items WHERE lease_owner IS NOT NULL"
        ).fetchall()
        return {(t, s, k) for t, s, k, owner, until in rows if (until or 0) > now and _owner_alive(owner)}

    def claim(self, target: str, *, limit: int = 500, exclude: Iterable[int] = ()) -> list[QueueEntry]:
        """Lease every due entry of ``target`` (at most ``limit``) to this publisher.

        An entry whose lease expired, or whose publisher on this machine is gone, is due again;
        one that already used every attempt that way is marked ``dead``.
        """
        now = time.time()
        lease_until = now + float(self.settings["lease_seconds"])
        max_attempts = int(self.settings["max_attempts"])
        skip = set(exclude)
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM items WHERE target = ? "
                "AND status IN ('queued', 'failed', 'publishing') ORDER BY seq, id",
                (target,),
            ).fetchall()
            busy = self._busy_slots(db, now)
            claimed: list[int] = []
            for entry in map(QueueEntry.from_row, rows):
                if entry.id in skip or not self._claimable(entry, now):
                    continue
                if (entry.target, entry.session_id, entry.kind) in busy:
                    continue
                if entry.status == "publishing" and entry.attempts >= max_attempts:
                    db.execute(
                        "UPDATE items SET status = 'dead', lease_owner = NULL, lease_until = NULL, "
                        "last_error = ?, updated_at = ? WHERE id = ?",
                        (f"publisher stopped before finishing, {entry.attempts} times", now, entry.id),
                    )
                    continue
                db.execute(
                    "UPDATE items SET status = 'publishing', attempts = attempts + 1, lease_owner = ?, "
                    "lease_until = ?, updated_at = ? WHERE id = ?",
                    (self.owner, lease_until, now, entry.id),
                )
                busy.add((entry.target, entry.session_id, entry.kind))
                claimed.append(entry.id)
                if len(claimed) >= limit:
                    break
            if not claimed:
                return []
            marks = ",".join("?" * len(claimed))
            return [QueueEntry.from_row(r) for r in db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM items WHERE id IN ({marks}) ORDER BY id", claimed
            )]

    def item(self, entry: QueueEntry) -> PublishItem:
        """The PublishItem for an entry: the exact bytes enqueued, and the metadata targets use."""
        files = {name: self.get_blob(digest) for name, digest in entry.files.items()}
        meta = dict(entry.meta)
        previous = self._one(
            self.db,
            "target = ? AND session_id = ? AND kind = ? AND seq < ? AND published_at IS NOT NULL "
            "ORDER BY published_at DESC LIMIT 1",
            (entry.target, entry.session_id, entry.kind, entry.seq),
        )
        if previous is not None:
            # Files of the version now at the target that this version no longer has.
            meta["previous_files"] = sorted(set(previous.files) - set(files))
        return PublishItem(
            id=entry.id,
            target=entry.target,
            session_id=entry.session_id,
            session_type=entry.session_type,
            kind=entry.kind,
            ext=entry.ext,
            sha256=entry.sha256,
            files=files,
            meta=meta,
            attempts=entry.attempts,
            key=entry.key,
            progress=dict(entry.progress or {}),
        )

    def save_progress(self, entry_id: int, progress: dict[str, Any]) -> None:
        """Store a target's checkpoint for an entry this publisher holds the lease of."""
        text = json.dumps(_redact_json(progress), allow_nan=False)
        with self._tx() as db:
            db.execute("UPDATE items SET progress = ?, updated_at = ? WHERE id = ? AND lease_owner = ?",
                       (text, time.time(), entry_id, self.owner))

    def record(self, result: PublishResult) -> QueueEntry | None:
        """Store a target's answer for an entry this publisher leased."""
        now = time.time()
        with self._tx() as db:
            entry = self._one(db, "id = ?", (result.item_id,))
            if entry is None:
                return None
            if result.ok:
                receipt = json.dumps(_redact_json(result.receipt))
                if entry.status == "published":
                    pass  # another publisher already recorded it; the first receipt stays
                elif entry.status == "superseded":
                    db.execute(
                        "UPDATE items SET receipt = ?, published_at = ?, lease_owner = NULL, lease_until = NULL, "
                        "updated_at = ? WHERE id = ?", (receipt, now, now, entry.id))
                else:
                    db.execute(
                        "UPDATE items SET status = 'published', receipt = ?, published_at = ?, last_error = NULL, "
                        "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
                        (receipt, now, now, entry.id))
            elif entry.lease_owner == self.owner:
                error = result.error or "the target reported a failure without a message"
                if result.retry_after is not None and not result.permanent:
                    self._defer(db, entry, error, now, max(0.0, float(result.retry_after)))
                else:
                    self._fail(db, entry, error, now, permanent=result.permanent)
            return self._one(db, "id = ?", (entry.id,))

    @staticmethod
    def _defer(db: sqlite3.Connection, entry: QueueEntry, error: str, now: float, delay: float) -> None:
        """The target asked to wait (a rate limit): try again after ``delay``, attempt not spent."""
        message = " ".join(redact(error).split())[:2000]
        status = "superseded" if entry.status == "superseded" else "failed"
        db.execute(
            "UPDATE items SET status = ?, last_error = ?, next_attempt_at = ?, attempts = MAX(0, attempts - 1), "
            "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
            (status, message, now + delay, now, entry.id),
        )

    def fail(self, entry_id: int, error: str, *, permanent: bool = False) -> QueueEntry | None:
        """Record a failure of an entry this publisher leased (``permanent``: straight to dead)."""
        now = time.time()
        with self._tx() as db:
            entry = self._one(db, "id = ?", (entry_id,))
            if entry is None or entry.lease_owner != self.owner:
                return entry
            self._fail(db, entry, error, now, permanent=permanent)
            return self._one(db, "id = ?", (entry_id,))

    def _fail(self, db: sqlite3.Connection, entry: QueueEntry, error: str, now: float, permanent: bool = False) -> None:
        message = " ".join(redact(error).split())[:2000]
        if entry.status == "superseded":
            db.execute("UPDATE items SET last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? "
                       "WHERE id = ?", (message, now, entry.id))
            return
        dead = permanent or entry.attempts >= int(self.settings["max_attempts"])
        db.execute(
            "UPDATE items SET status = ?, last_error = ?, next_attempt_at = ?, lease_owner = NULL, "
            "lease_until = NULL, updated_at = ? WHERE id = ?",
            ("dead" if dead else "failed", message, now + (0 if dead else self.backoff(entry.attempts)), now, entry.id),
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try: exponential in the attempts so far, capped, with jitter."""
        base = float(self.settings["backoff_seconds"])
        cap = float(self.settings["backoff_max_seconds"])
        delay = min(cap, base * (2 ** max(0, attempts - 1)))
        # Jitter spreads retries of many items (and many publishers) apart.
        return delay * random.uniform(0.5, 1.0)

    # -- inspecting and retrying ----------------------------------------------------------

    def get(self, entry_id: int) -> QueueEntry | None:
        return self._one(self.db, "id = ?", (entry_id,))

    def entries(self, status: str | None = None) -> list[QueueEntry]:
        if status is None:
            return self._select()
        return self._select("status = ?", (status,))

    def slot(self, session_id: str, kind: str) -> dict[str, QueueEntry]:
        """The newest entry per target for one artifact of one session."""
        out: dict[str, QueueEntry] = {}
        for entry in self._select("session_id = ? AND kind = ?", (session_id, kind)):
            if entry.target not in out or entry.seq > out[entry.target].seq:
                out[entry.target] = entry
        return out

    def retry(self, entry_id: int | None = None) -> list[int]:
        """Make failed/dead entries due now (one by id, or all of them); return their ids."""
        now = time.time()
        with self._tx() as db:
            if entry_id is None:
                ids = [r[0] for r in db.execute("SELECT id FROM items WHERE status IN ('failed', 'dead') ORDER BY id")]
            else:
                entry = self._one(db, "id = ?", (entry_id,))
                if entry is None:
                    raise UsageError(f"no queue entry with id {entry_id}")
                if entry.status not in ("failed", "dead", "queued"):
                    raise UsageError(f"entry {entry_id} is {entry.status}; only failed or dead entries are retried")
                ids = [entry_id]
            for row_id in ids:
                db.execute(
                    "UPDATE items SET status = 'queued', attempts = 0, next_attempt_at = ?, updated_at = ? "
                    "WHERE id = ?", (now, now, row_id))
            return ids

    def stats(self) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = {}
        for target, status, n in self.db.execute("SELECT target, status, COUNT(*) FROM items GROUP BY 1, 2"):
            counts.setdefault(target, {s: 0 for s in STATUSES})[status] = n
        oldest = self.db.execute(
            "SELECT MIN(created_at) FROM items WHERE status IN ('queued', 'failed', 'publishing')").fetchone()[0]
        due = len(self.due())
        blobs = sum(1 for _ in self.blob_dir.iterdir()) if self.blob_dir.is_dir() else 0
        return {"targets": counts, "due_now": due, "oldest_pending": iso(oldest), "blobs": blobs,
                "path": str(self.path)}


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): the write lock is taken up front,
    so two processes never both read a row and then race to update it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _redact_json(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _redact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_json(v) for v in value]
    return value


# -- targets ----------------------------------------------------------------------------------


def check_target(config: Config, host: PluginHost, name: str) -> dict[str, Any]:
    """The validated ``[targets.<name>]`` table of an enabled target a plugin provides."""
    from flywheel_core.schema import iter_errors

    if name not in config.targets:
        raise UsageError(f"target {name!r} is not configured in {config.source} (add a [targets.{name}] table)")
    if name not in config.enabled_targets():
        raise UsageError(f"target {name!r} is disabled in {config.source} (enabled = false)")
    _, registration = host.target(name)
    table = config.target_config(name)
    checked = {k: v for k, v in table.items() if k != "enabled"}
    for path, message in iter_errors(registration.config_schema or {}, checked):
        raise UsageError(f"{config.source}: $.targets.{name}{path[1:]}: {message}")
    return table


def _session_meta(session: Session, session_path: Path | None) -> dict[str, Any]:
    return {
        "date": session.when.isoformat().replace("+00:00", "Z"),
        "session_id": session.session_id,
        "session_type": session.session_type,
        "agent_id": session.agent_id,
        **({"session_path": str(session_path)} if session_path else {}),
    }


def enqueue_result(result: SessionResult, session: Session, config: Config, host: PluginHost) -> list[dict[str, Any]]:
    """Enqueue every artifact of a finished run for every enabled target; mirror it in the session."""
    targets = config.enabled_targets()
    if not targets or not result.artifacts:
        return []
    for name in targets:
        check_target(config, host, name)
    session_path = Path(result.file).resolve()
    enqueued: list[dict[str, Any]] = []
    with PublicationQueue.for_config(config) as queue:
        for kind, info in result.artifacts.items():
            files = _artifact_files(info)
            meta = {
                **(info.get("meta") or {}),
                "title": info.get("title") or "",
                "summary": info.get("summary") or "",
                "tags": list(info.get("tags") or []),
                "draft": bool(info.get("draft")),
                **_session_meta(session, session_path),
                "generator": info.get("generator") or "",
                "kind": kind,
                "ext": info["ext"],
            }
            for name in targets:
                if not host.target(name)[1].takes(kind):
                    continue
                entry, changed = queue.enqueue(
                    target=name, session_id=session.session_id, session_type=session.session_type,
                    kind=kind, ext=info["ext"], files=files, meta=meta, session_path=str(session_path),
                )
                if entry.status == "dead":
                    log.warning("%s -> %s: this version already failed %d times; `flywheel queue retry %d` "
                                "tries it again", kind, name, entry.attempts, entry.id)
                elif entry.status != "published":
                    enqueued.append({"id": entry.id, "kind": kind, "target": name, "status": entry.status,
                                     "new": changed, "sha256": entry.sha256})
        mirror_sessions(config, queue, [(str(session_path), session.session_id, k) for k in result.artifacts])
    return enqueued


def _artifact_files(info: dict[str, Any]) -> dict[str, bytes]:
    """The main file and attachments of a written artifact, by their name relative to its folder."""
    main = Path(info["path"])
    names = {f"{main.stem}.{info['ext']}": main}
    for extra in info.get("files") or []:
        names[Path(extra).relative_to(main.parent).as_posix()] = Path(extra)
    try:
        return {name: path.read_bytes() for name, path in names.items()}
    except OSError as exc:
        raise FlywheelError(f"cannot read artifact file for the queue: {exc.strerror}: {exc.filename}") from None


def _recorded_attachments(names: list[str], folder: Path) -> dict[str, bytes]:
    """The attachments a session's record lists (images of a devlog...), read only inside ``folder``."""
    from flywheel_core.fsutil import PathRefused, confine

    found: dict[str, bytes] = {}
    for name in names:
        try:
            path = confine(str(name), [folder], base=folder)
        except PathRefused:
            log.warning("%s: left out of the queue entry: not inside %s", name, folder)
            continue
        if path.is_file():
            found[path.relative_to(folder.resolve()).as_posix()] = path.read_bytes()
    return found


def enqueue_file(
    config: Config, host: PluginHost, file: Path, kind: str, targets: list[str], session_path: Path | None = None
) -> list[dict[str, Any]]:
    """``flywheel queue add``: enqueue one file from the output folder for the named targets."""
    from flywheel_core.fsutil import PathRefused, confine
    from flywheel_core.store import SessionStore

    if not NAME_RE.match(kind):
        raise UsageError(f"--kind {kind!r} must match {NAME_RE.pattern}")
    if not targets:
        raise UsageError("--targets names no target")
    out_dir = config.out_dir
    try:
        path = confine(str(file.absolute()), [out_dir])
    except PathRefused:
        raise UsageError(f"{file}: is outside the output folder {out_dir}; only generated artifacts are published") from None
    if not path.is_file():
        raise UsageError(f"{file}: no such file")
    ext = path.suffix.lstrip(".").lower()
    if not ext or not ext.isalnum() or len(ext) > 10:
        raise UsageError(f"{file}: needs a short file extension such as .md")
    for name in targets:
        check_target(config, host, name)
        if not host.target(name)[1].takes(kind):
            raise UsageError(f"target {name!r} does not take {kind!r} artifacts "
                             f"(it takes: {', '.join(host.target(name)[1].kinds)})")
    meta: dict[str, Any] = {"kind": kind, "ext": ext, "title": "", "summary": "", "tags": [], "draft": False}
    if session_path is not None:
        session = SessionStore(config.max_input_bytes).load(session_path)
        session_path = session_path.resolve()
        meta.update(_session_meta(session, session_path))
        session_id, session_type = session.session_id, session.session_type
    else:
        rel = path.relative_to(out_dir).parts
        if len(rel) != 3:
            raise UsageError(f"{file}: not at <out>/<session_type>/<session_id>/<file>; pass --session SESSION_FILE")
        session_type, session_id = rel[0], rel[1]
    files = {f"{kind}.{ext}": path.read_bytes()}
    if session_path is not None:
        record = session.artifacts.get(kind)
        if record is not None and record.path and Path(record.path).resolve() == path.resolve():
            files.update(_recorded_attachments(record.files, path.parent))
    out = []
    with PublicationQueue.for_config(config) as queue:
        for name in targets:
            entry, changed = queue.enqueue(
                target=name, session_id=session_id, session_type=session_type, kind=kind, ext=ext,
                files=files, meta=meta, session_path=str(session_path) if session_path else None,
            )
            out.append({"id": entry.id, "kind": kind, "target": name, "status": entry.status, "new": changed,
                        "sha256": entry.sha256})
        if session_path is not None:
            mirror_sessions(config, queue, [(str(session_path), session_id, kind)], create=True, path=str(path))
    return out


# -- publishing -------------------------------------------------------------------------------


@attrs.define
class PublishOutcome:
    """What ``flywheel publish`` did with one entry."""

    id: int
    target: str
    session_id: str
    kind: str
    status: str  # published | failed | dead | would-publish
    receipt: dict[str, Any] = attrs.field(factory=dict)
    error: str = ""
    attempts: int = 0
    next_attempt_at: str | None = None


def _call_target(host: PluginHost, name: str, items: list[PublishItem], table: dict[str, Any], ctx: Any) -> Any:
    """Call ``flywheel_publish`` on the plugin that owns ``name`` only."""
    owner, _ = host.target(name)
    others = [plugin for plugin_name, plugin in host.pm.list_name_plugin() if plugin_name != owner]
    caller = host.pm.subset_hook_caller("flywheel_publish", remove_plugins=others)
    return caller(target=name, items=items, config=table, ctx=ctx)


def publish(
    config: Config, host: PluginHost, *, target: str | None = None, dry_run: bool = False
) -> tuple[list[PublishOutcome], list[str]]:
    """Publish every due entry, target by target; return (outcomes, warnings)."""
    from flywheel_core.context import PublishContext

    if target is not None:
        names = [target]
    else:
        names = config.enabled_targets()
    tables = {name: check_target(config, host, name) for name in names}
    outcomes: list[PublishOutcome] = []
    warnings: list[str] = []
    ctx = PublishContext(config=config, state_dir=config.state_dir, dry_run=dry_run)
    if dry_run and not (config.state_dir / "queue.sqlite3").is_file():
        return outcomes, warnings  # nothing was ever enqueued; do not create the queue
    with PublicationQueue.for_config(config) as queue:
        ctx.saver = queue.save_progress
        if target is None:
            for name in sorted({e.target for e in queue.due()} - set(names)):
                warnings.append(f"entries for target {name!r} are waiting, but it is not enabled in {config.source}")
        for name in names:
            if dry_run:
                outcomes.extend(_dry_run(queue, host, name, tables[name], ctx))
                continue
            tried: set[int] = set()
            while entries := queue.claim(name, exclude=tried):
                tried.update(e.id for e in entries)
                outcomes.extend(_publish_batch(queue, host, name, tables[name], ctx, entries))
                mirror_sessions(config, queue, [(e.session_path, e.session_id, e.kind) for e in entries])
    return outcomes, warnings


def _dry_run(queue: PublicationQueue, host: PluginHost, name: str, table: dict[str, Any], ctx: Any) -> list[PublishOutcome]:
    entries = queue.due(name)
    if not entries:
        return []
    items = [queue.item(e) for e in entries]
    try:
        answers = _call_target(host, name, items, table, ctx) or []
    except Exception as exc:
        answers = [PublishResult(i.id, False, error=_describe(exc)) for i in items]
    by_id = {r.item_id: r for r in answers if isinstance(r, PublishResult)}
    out = []
    for entry in entries:
        answer = by_id.get(entry.id)
        out.append(PublishOutcome(
            entry.id, name, entry.session_id, entry.kind,
            "would-publish" if answer is None or answer.ok else "would-fail",
            receipt=_redact_json(answer.receipt) if answer else {},
            error=redact(answer.error) if answer and not answer.ok else "",
            attempts=entry.attempts,
        ))
    return out


def _describe(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, FlywheelError) else f"{type(exc).__name__}: {exc}"
    return redact(" ".join(text.split()))


def _publish_batch(
    queue: PublicationQueue, host: PluginHost, name: str, table: dict[str, Any], ctx: Any, entries: list[QueueEntry]
) -> list[PublishOutcome]:
    items: list[PublishItem] = []
    done: list[QueueEntry] = []
    for entry in entries:
        try:
            items.append(queue.item(entry))
        except FlywheelError as exc:  # the enqueued bytes are gone: no retry can help
            done.append(queue.fail(entry.id, str(exc), permanent=True) or entry)
    answers: dict[int, PublishResult] = {}
    if items:
        try:
            returned = _call_target(host, name, items, table, ctx)
        except Exception as exc:
            log.debug("target %s raised", name, exc_info=True)
            error = f"target {name!r} failed: {_describe(exc)}"
            returned = [PublishResult(i.id, False, error=error) for i in items]
        if returned is None:
            returned = [PublishResult(i.id, False, error=f"the plugin owning target {name!r} returned no result")
                        for i in items]
        answers = {r.item_id: r for r in returned if isinstance(r, PublishResult)}
        _crash_point("before_queue_update")
        for item in items:
            answer = answers.get(item.id) or PublishResult(item.id, False, error=f"target {name!r} gave no result for it")
            done.append(queue.record(answer) or queue.get(item.id))  # type: ignore[arg-type]
    out = []
    for entry in done:
        answer = answers.get(entry.id)
        ok = entry.status in ("published", "superseded") and (answer is None or answer.ok)
        out.append(PublishOutcome(
            entry.id, name, entry.session_id, entry.kind,
            "published" if ok else entry.status,
            receipt=entry.receipt or {},
            error="" if ok else (entry.last_error or ""),
            attempts=entry.attempts,
            next_attempt_at=iso(entry.next_attempt_at) if entry.status == "failed" else None,
        ))
    return out


# -- mirroring into session files -------------------------------------------------------------


def mirror_sessions(
    config: Config,
    queue: PublicationQueue,
    slots: Iterable[tuple[str | None, str, str]],
    *,
    create: bool = False,
    path: str | None = None,
) -> None:
    """Write each artifact's publication state into its session file (``artifacts.<kind>``).

    Only the version the session file records is mirrored (an older version's outcome never
    overwrites a newer one's); a session file that is gone is a warning, not a failure.
    """
    from flywheel_core.models import ArtifactRecord
    from flywheel_core.store import SessionStore

    by_file: dict[str, set[tuple[str, str]]] = {}
    for session_path, session_id, kind in slots:
        if session_path:
            by_file.setdefault(session_path, set()).add((session_id, kind))
    for session_path, wanted in by_file.items():
        states = {(sid, kind): queue.slot(sid, kind) for sid, kind in wanted}

        def change(session: Session, states: dict = states) -> None:
            for (session_id, kind), per_target in sorted(states.items()):
                if session.session_id != session_id:
                    log.warning("%s: holds session %s, not %s; publication state not recorded",
                                session_path, session.session_id, session_id)
                    continue
                record = session.artifacts.get(kind)
                if record is None:
                    if not create:
                        continue
                    record = session.artifacts[kind] = ArtifactRecord(generated=True, path=path)
                if record.sha256 is None and create:
                    record.sha256 = next(iter(per_target.values())).sha256
                current = {t: e for t, e in per_target.items() if e.sha256 == record.sha256}
                if not current:
                    continue
                _apply(record, current)

        try:
            SessionStore(config.max_input_bytes).update(Path(session_path), change)
        except (InputError, OSError) as exc:
            log.warning("could not record publication state in %s: %s", session_path, redact(str(exc)))


def _apply(record: Any, per_target: dict[str, QueueEntry]) -> None:
    errors = []
    for target, entry in sorted(per_target.items()):
        if entry.status == "published":
            record.published_to[target] = entry.receipt or {}
        elif entry.status in ("failed", "dead"):
            record.published_to[target] = {
                "status": entry.status,
                "error": entry.last_error or "",
                "attempts": entry.attempts,
                **({"next_attempt_at": iso(entry.next_attempt_at)} if entry.status == "failed" else {}),
            }
            errors.append(f"{target}: {entry.last_error or entry.status}")
        else:
            record.published_to.pop(target, None)
    statuses = {e.status for e in per_target.values()}
    if statuses & {"failed", "dead"}:
        record.status = "failed"
    elif statuses == {"published"}:
        record.status = "published"
    else:
        record.status = "queued"
    record.errors = errors
