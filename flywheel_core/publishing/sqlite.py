"""The queue in one SQLite file (WAL mode): the embedded default, and the only module that imports sqlite3."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import quote

from flywheel_core.locks import lock_for
from flywheel_core.publishing import sql
from flywheel_core.publishing.storage import (
    ANY,
    JSON_COLUMNS,
    SCHEMA_VERSION,
    TABLES,
    Document,
    NewEntry,
    QueueEntry,
    QueueError,
)

__all__ = ["SCHEMA_VERSION", "SqliteStorage"]

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
    # Interrupted tries counted apart from attempts; the revision a session file last showed;
    # where the artifact's main file was written (so a session file can be mended from the row);
    # the stamp of each session file as flywheel last left it. Rows from before count as shown
    # once and changed since: the next publish mends their files. Entries killed by the old rule
    # ("publisher stopped before finishing, N times": N interrupted tries, no answer) are queued
    # again, their tries counted as interruptions: the target's content check reconciles them.
    3: """
    ALTER TABLE items ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE items ADD COLUMN revision INTEGER NOT NULL DEFAULT 2;
    ALTER TABLE items ADD COLUMN mirrored INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE items ADD COLUMN artifact_path TEXT;
    CREATE INDEX items_session_path ON items (session_path);
    CREATE INDEX items_unmirrored ON items (id) WHERE mirrored < revision AND session_path IS NOT NULL;
    CREATE TABLE session_files (path TEXT PRIMARY KEY, stamp TEXT NOT NULL);
    UPDATE items SET status = 'queued', interruptions = attempts, attempts = 0, next_attempt_at = 0,
        revision = revision + 1
        WHERE status = 'dead' AND last_error LIKE 'publisher stopped before finishing, % times';
    """,
    # What the publishing scan decided about an entry (JSON; NULL: not scanned), and two new
    # states: 'held' (waits for `flywheel review`) and 'rejected'. The status column is free text.
    4: "ALTER TABLE items ADD COLUMN findings TEXT",
    # The machine an entry's session file is on, and per machine the stamps of session files
    # (SQLite: one machine, written ''); documents of shared stores (the web target's content).
    5: """
    ALTER TABLE items ADD COLUMN session_host TEXT;
    CREATE TABLE session_files_5 (host TEXT NOT NULL DEFAULT '', path TEXT NOT NULL, stamp TEXT NOT NULL,
        PRIMARY KEY (host, path));
    INSERT INTO session_files_5 (host, path, stamp) SELECT '', path, stamp FROM session_files;
    DROP TABLE session_files;
    ALTER TABLE session_files_5 RENAME TO session_files;
    CREATE TABLE documents (
        store TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT,
        revision INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (store, key)
    );
    CREATE INDEX documents_revision ON documents (store, revision);
    """,
    # The ids of the entries an entry waits for (JSON list; NULL: none): a social post waits for
    # the page it links to. Entries from before wait for nothing.
    6: """
    ALTER TABLE items ADD COLUMN waits_for TEXT;
    CREATE INDEX items_waiting ON items (id) WHERE waits_for IS NOT NULL;
    """,
}
_COLUMNS = (
    "id key target session_id session_type kind ext sha256 seq files meta session_path status attempts "
    "last_error next_attempt_at lease_owner lease_until receipt created_at updated_at published_at progress "
    "interruptions revision mirrored artifact_path findings session_host waits_for"
).split()
_JSON = ("files", "meta", "receipt", "progress", "findings", "waits_for")
#: How long an idle worker sleeps between two looks at an SQLite queue (nothing can wake it).
POLL_SECONDS = 0.5
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM items"
_BUSY_SECONDS = 60.0


class SqliteStorage:
    """``queue.sqlite3``: WAL mode, ``BEGIN IMMEDIATE`` around every write (one writer at a time,
    the others wait up to a minute), ``synchronous = FULL``.

    Only a missing file is a new queue: it is built aside and linked into place complete, so no
    process ever sees a half-made one, and an existing file that is empty, damaged or not a
    queue is refused with a message naming it, never taken for a new queue.
    """

    shared = False

    def __init__(self, path: Path, *, busy_seconds: float = _BUSY_SECONDS) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.busy_seconds = busy_seconds
        self._db: sqlite3.Connection | None = None

    def exists(self) -> bool:
        return os.path.lexists(self.path)

    def now(self) -> float:
        return time.time()  # one machine, one clock

    def clone(self) -> SqliteStorage:
        return SqliteStorage(self.path, busy_seconds=self.busy_seconds)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def migrate(self) -> tuple[int, int]:
        before = 0
        if self.exists() and self._db is None:
            try:
                db = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
                try:
                    before = db.execute("PRAGMA user_version").fetchone()[0]
                finally:
                    db.close()
            except sqlite3.Error as exc:
                raise self._error(exc) from None
        self.db  # opening creates or upgrades it
        return before, SCHEMA_VERSION

    def lock(self, name: str, timeout: float | None = None):
        return lock_for(self.path.with_name(f"{name}.lock"), timeout)

    def notify(self, target: str) -> None:
        pass  # nobody listens: SQLite workers poll

    def wait(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, POLL_SECONDS)))

    # -- opening -----------------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise QueueError(f"{folder}: the state folder is a file; move it aside or set state_dir") from None
        except OSError as exc:
            raise QueueError(f"{folder}: cannot create the state folder: {exc.strerror}") from None
        if not self.exists():
            self._create()
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise QueueError(f"{self.path}: cannot read the publication queue: {exc.strerror}") from None
        if size == 0:
            raise QueueError(
                f"{self.path}: the publication queue is an empty file (0 bytes), not a queue: its entries are "
                "lost or were never there; restore it from a backup, or move it aside to start a new queue"
            )
        try:
            db = sqlite3.connect(f"file:{quote(str(self.path))}?mode=rw", uri=True, timeout=self.busy_seconds,
                                 isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_seconds * 1000)}")
            db.execute("PRAGMA synchronous = FULL")
            self._check_schema(db)
        except sqlite3.Error as exc:
            db.close()
            raise self._error(exc) from None
        except QueueError:
            db.close()
            raise
        return db

    def _create(self) -> None:
        """Build a complete empty queue beside the path, then link it into place (if nobody did first)."""
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.new")
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode = WAL")  # stored in the file: every connection uses it
                db.execute("BEGIN")
                for step in range(1, SCHEMA_VERSION + 1):
                    for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
            finally:
                db.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass  # another process created it first: use theirs
            except OSError:
                if not self.exists():  # a file system without hard links
                    os.replace(tmp, self.path)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        except OSError as exc:
            raise QueueError(f"{self.path}: cannot create the publication queue: {exc.strerror}") from None
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                try:
                    leftover.unlink()
                except FileNotFoundError:
                    pass

    def _check_schema(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise QueueError(f"{self.path}: made by a newer flywheel (queue schema {version}); upgrade flywheel-core")
        if version < 1:
            raise QueueError(f"{self.path}: is an SQLite database but not a flywheel publication queue "
                             "(no schema version); move it aside, or set state_dir to another folder")
        # Switching to WAL needs a moment of exclusive access; another process doing the same at
        # the same time is not an error: it has simply done it for us.
        db.execute("PRAGMA journal_mode = WAL")
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

    def _error(self, exc: sqlite3.Error) -> QueueError:
        """One line that names the file, says what is wrong, and what to do."""
        text = str(exc)
        low = text.lower()
        if "readonly" in low or "read-only" in low:
            what = "cannot be written (the file or its folder is read-only); make them writable and run again"
        elif "disk is full" in low or "disk i/o" in low:
            what = f"cannot be written ({text}); free some disk space and run again"
        elif "locked" in low or "busy" in low:
            what = (f"is locked by another flywheel process for more than {self.busy_seconds:.0f} s "
                    "(a very large batch?); run again later")
        elif "no such table" in low or "no such column" in low:
            what = f"is not a flywheel publication queue ({text}); move it aside to start a new queue"
        elif "unable to open" in low:
            what = f"cannot be opened ({text}); check that the file and its folder are readable and writable"
        else:
            what = (f"cannot be used: the publication queue is damaged or not an SQLite database ({text}); "
                    "it was left untouched: restore it from a backup, or move it aside to start a new queue")
        return QueueError(f"{self.path}: {what}")

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[_SqliteTransaction]:
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            yield _SqliteTransaction(self, db)
        except BaseException:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise self._error(exc) from None


class _SqliteTransaction:
    """:class:`~flywheel_core.publishing.storage.StorageTransaction` on one SQLite connection."""

    def __init__(self, storage: SqliteStorage, db: sqlite3.Connection) -> None:
        self.storage = storage
        self.db = db

    def _run(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, tuple(args))
        except sqlite3.Error as exc:
            raise self.storage._error(exc) from None

    def _entries(self, where: str, args: Iterable[Any] = (), order: str = "id") -> list[QueueEntry]:
        try:
            rows = self._run(f"{_SELECT} WHERE {where} ORDER BY {order}", args).fetchall()
        except sqlite3.Error as exc:
            raise self.storage._error(exc) from None
        return [self._entry(row) for row in rows]

    def _entry(self, row: tuple) -> QueueEntry:
        data = dict(zip(_COLUMNS, row))
        for name in _JSON:
            if data[name] is None:
                continue
            try:
                data[name] = json.loads(data[name])
            except (TypeError, ValueError) as exc:
                raise QueueError(
                    f"{self.storage.path}: entry {data['id']}: column {name!r} does not hold valid JSON ({exc}); "
                    f"fix it with the sqlite3 tool, or drop the entry and enqueue its artifact again"
                ) from None
        if not isinstance(data["files"], dict) or not isinstance(data["meta"], dict):
            raise QueueError(f"{self.storage.path}: entry {data['id']}: columns 'files' and 'meta' must hold "
                             "JSON objects; fix the row, or drop it and enqueue its artifact again")
        try:
            return QueueEntry(**data)
        except TypeError as exc:
            raise QueueError(f"{self.storage.path}: entry {data['id']}: unexpected row ({exc})") from None

    def get(self, entry_id: int) -> QueueEntry | None:
        found = self._entries("id = ?", (entry_id,))
        return found[0] if found else None

    def find_key(self, key: str) -> QueueEntry | None:
        found = self._entries("key = ?", (key,))
        return found[0] if found else None

    def versions(self, target: str, session_id: str, kind: str) -> list[QueueEntry]:
        return self._entries("target = ? AND session_id = ? AND kind = ?", (target, session_id, kind), "seq, id")

    def claimable(
        self, target: str, now: float, local_host: str, *, limit: int, after: tuple[int, int] | None = None,
        leased: bool = False,
    ) -> list[QueueEntry]:
        where, args = sql.claimable_where(sql.SQLITE, target, now, local_host, after=after, leased=leased)
        return self._entries(where, args, f"seq, id LIMIT {int(limit)}")

    def leased(self, target: str) -> list[QueueEntry]:
        return self._entries("target = ? AND lease_owner IS NOT NULL", (target,))

    def next_due(self, targets: Iterable[str]) -> float | None:
        return self._run(*sql.next_due_sql(sql.SQLITE, targets)).fetchone()[0]

    def select(self, **filters: Any) -> list[QueueEntry]:
        return self._entries(*sql.select_where(sql.SQLITE, "", **filters))

    def dependents(self, ids: Iterable[int]) -> list[QueueEntry]:
        wanted = list(ids)
        return self._entries(*sql.dependents_where(sql.SQLITE, wanted)) if wanted else []

    def insert(self, entry: NewEntry) -> int:
        cur = self._run(sql.insert_sql(sql.SQLITE), sql.insert_values(entry, _dumps))
        return int(cur.lastrowid or 0)

    def update(self, entry_id: int, changes: dict[str, Any], *, now: float, state: bool = True) -> None:
        unknown = set(changes) - set(_COLUMNS)
        if unknown or "id" in changes:
            raise ValueError(f"not a queue column: {sorted(unknown or {'id'})}")
        names = list(changes)
        values = [_dumps(changes[n]) if n in _JSON and changes[n] is not None else changes[n] for n in names]
        self._run(sql.update_sql(sql.SQLITE, names, state=state), [*values, now, entry_id])

    def mark_mirrored(self, marks: Iterable[tuple[int, int]]) -> None:
        for entry_id, revision in marks:
            self._run("UPDATE items SET mirrored = ? WHERE id = ? AND revision = ? AND mirrored < ?",
                      (revision, entry_id, revision, revision))

    def session_files(self) -> dict[str, str]:
        rows = self._run(
            "SELECT DISTINCT i.session_path, COALESCE(f.stamp, '') FROM items i "
            "LEFT JOIN session_files f ON f.host = '' AND f.path = i.session_path WHERE i.session_path IS NOT NULL")
        return {path: stamp for path, stamp in rows}

    def set_session_file(self, path: str, stamp: str) -> None:
        self._run("INSERT INTO session_files (host, path, stamp) VALUES ('', ?, ?) "
                  "ON CONFLICT (host, path) DO UPDATE SET stamp = excluded.stamp", (path, stamp))

    def counts(self) -> tuple[list[tuple[str, str, int]], float | None]:
        rows = [tuple(r) for r in self._run("SELECT target, status, COUNT(*) FROM items GROUP BY 1, 2 ORDER BY 1, 2")]
        oldest = self._run(
            "SELECT MIN(created_at) FROM items WHERE status IN ('queued', 'failed', 'publishing')").fetchone()[0]
        return rows, oldest  # type: ignore[return-value]

    # -- shared stores -------------------------------------------------------------------------

    def _document(self, key: str, value: str, revision: int) -> Document:
        return Document(key, json.loads(value), revision)

    def document(self, store: str, key: str) -> Document | None:
        row = self._run("SELECT key, value, revision FROM documents WHERE store = ? AND key = ? "
                        "AND value IS NOT NULL", (store, key)).fetchone()
        return self._document(*row) if row else None

    def documents(self, store: str, prefix: str = "") -> list[Document]:
        rows = self._run("SELECT key, value, revision FROM documents WHERE store = ? AND substr(key, 1, ?) = ? "
                         "AND value IS NOT NULL ORDER BY key", (store, len(prefix), prefix))
        return [self._document(*row) for row in rows]

    def put_document(self, store: str, key: str, value: Any, expect: Any, now: float) -> int | None:
        # Writes are serialised (BEGIN IMMEDIATE): read, compare, write is atomic, and the next
        # revision is one more than the last.
        current = self._run("SELECT value IS NOT NULL, revision FROM documents WHERE store = ? AND key = ?",
                            (store, key)).fetchone()
        live = bool(current and current[0])
        if expect is not ANY and (live if expect is None else not live or current[1] != expect):
            return None
        revision = int(self._run("SELECT COALESCE(MAX(revision), 0) + 1 FROM documents").fetchone()[0])
        self._run("INSERT INTO documents (store, key, value, revision, updated_at) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (store, key) DO UPDATE SET value = excluded.value, revision = excluded.revision, "
                  "updated_at = excluded.updated_at", (store, key, None if value is None else _dumps(value), revision, now))
        return revision

    def store_revision(self, store: str) -> int:
        return int(self._run("SELECT COALESCE(MAX(revision), 0) FROM documents WHERE store = ?", (store,)).fetchone()[0])

    # -- moving a queue ------------------------------------------------------------------------

    def dump(self, table: str) -> Iterator[dict[str, Any]]:
        if table not in TABLES:
            raise ValueError(f"not a queue table: {table}")
        order = {"items": "id", "session_files": "host, path", "documents": "store, key"}[table]
        cur = self._run(f"SELECT * FROM {table} ORDER BY {order}")
        names = [d[0] for d in cur.description]
        for row in cur:
            data = dict(zip(names, row))
            for name in JSON_COLUMNS:
                if data.get(name) is not None:
                    data[name] = json.loads(data[name])
            yield data

    def load(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        if table not in TABLES:
            raise ValueError(f"not a queue table: {table}")
        columns = {r[1] for r in self._run(f"PRAGMA table_info({table})")}
        count = 0
        for row in rows:
            row = dict(row)
            if table == "session_files":
                row["host"] = ""  # one machine: every session file here is this machine's
            unknown = set(row) - columns
            if unknown:
                raise QueueError(f"{self.path}: cannot import {table} column(s) {', '.join(sorted(unknown))}: "
                                 "the export comes from a newer flywheel; upgrade flywheel-core")
            names = list(row)
            values = [_dumps(row[n]) if n in JSON_COLUMNS and row[n] is not None else row[n] for n in names]
            self._run(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)
            count += 1
        return count


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
