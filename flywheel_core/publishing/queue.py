"""The publication queue's API: versions, claims and leases, answers, backoff and the states they lead to.

An entry may wait for others (``waits_for``, ids): a social post waits for the entries that
publish the page it links to, so nobody follows a link to a page that is not there yet (a post
cannot be taken back). Who waits for whom is decided when a run enqueues a session's artifacts
(:func:`~flywheel_core.publishing.enqueue.enqueue_versions`); here, a waiting entry is not
claimed (not due) until every entry it waits for is published or superseded, a newer version
of what it waits for takes the older one's place in its list, and publishing what others wait
for wakes the workers of their targets. What waits is never failed nor charged an attempt; if
what it waits for is dead or rejected, ``flywheel publish`` says so (exit 1) until a person
retries or approves it.
"""

from __future__ import annotations

import logging
import random
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from flywheel_core.errors import FlywheelError, UsageError
from flywheel_core.fsutil import sha256_bytes
from flywheel_core.publishing.backends import open_storage
from flywheel_core.publishing.blobs import BlobStore, FileBlobStore
from flywheel_core.publishing.crash import CRASH_ENV, CRASH_POINTS, crash_point
from flywheel_core.publishing.leases import LOCAL_HOST, new_owner, owner_alive
from flywheel_core.publishing.screening import ScanPolicy
from flywheel_core.publishing.sqlite import SqliteStorage
from flywheel_core.publishing.storage import (
    DONE,
    PENDING,
    STATUSES,
    NewEntry,
    QueueEntry,
    QueueStorage,
    StorageTransaction,
    iso,
)
from flywheel_core.redaction import redact
from flywheel_core.types import PublishItem, PublishResult

if TYPE_CHECKING:
    from flywheel_core.config import Config

__all__ = [
    "CRASH_ENV",
    "CRASH_POINTS",
    "DEFAULT_SETTINGS",
    "PENDING",
    "STATUSES",
    "PublicationQueue",
    "QueueEntry",
    "crash_point",
    "idempotency_key",
    "iso",
    "open_queue",
    "open_storage",
    "redact_json",
]

log = logging.getLogger("flywheel.queue")

DEFAULT_SETTINGS: dict[str, Any] = {
    "max_attempts": 8,  # tries a target answered with a failure, then dead
    "max_interruptions": 50,  # tries whose publisher died first, then dead (a batch-mate is not to blame)
    "lease_seconds": 300.0,  # renewed every third of it while the target works
    "backoff_seconds": 30.0,
    "backoff_max_seconds": 3600.0,
}
#: An entry interrupted this often is a suspect: suspects are tried after the others, and each
#: further interruption halves their batch, so one that kills the publisher ends up alone and
#: its batch-mates get published.
_SUSPECT_AFTER = 2
#: States of a waiting entry whose ``waits_for`` may still change (it is not published, nor being
#: published, nor given up): a newer version of what it waits for takes the older one's place.
_MOVABLE = ("queued", "failed", "dead", "held")


def _interruptions(entry: QueueEntry) -> int:
    """Interruptions counting the current one: a ``publishing`` entry up for claim lost its publisher."""
    return entry.interruptions + (entry.status == "publishing")


def idempotency_key(target: str, session_id: str, kind: str, content_sha: str) -> str:
    """sha256 of target + session id + kind + the content's hash: one row per version and target.

    A pure function of what is published and where: never of time, order or process.
    """
    return sha256_bytes("\0".join((target, session_id, kind, content_sha)).encode())


def version_digest(files: dict[str, str]) -> str:
    """The hash of a version: every file name with its content hash."""
    return sha256_bytes("".join(f"{name}\0{sha}\n" for name, sha in sorted(files.items())).encode())


def open_queue(config: Config, *, pool_size: int | None = None) -> PublicationQueue:
    """The queue a configuration names (see :func:`open_storage`).

    Nothing is created until the queue is first used; ``queue.exists()`` tells whether it ever was.
    """
    storage, blobs = open_storage(config, pool_size=pool_size)
    queue = PublicationQueue(storage, blobs, {k: v for k, v in config.queue.items() if k in DEFAULT_SETTINGS})
    queue.scan_policy = ScanPolicy.from_config(config)
    return queue


class PublicationQueue:
    """Versions of artifacts bound for targets, leased to publishers, and the answers they got.

    Every read-modify-write runs in one storage transaction, so many processes (and machines,
    on a shared backend) can enqueue and publish at once; nothing is published twice by the
    queue's doing, and an older version never reaches a target after a newer one.
    """

    def __init__(
        self,
        storage: QueueStorage,
        blobs: BlobStore,
        settings: dict[str, Any] | None = None,
        *,
        owner: str | None = None,
    ) -> None:
        self.storage = storage
        self.blobs = blobs
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.owner = owner or new_owner()
        #: What the publishing scan does with what is enqueued (open_queue sets the config's).
        self.scan_policy = ScanPolicy()

    @classmethod
    def in_folder(cls, state_dir: Path, settings: dict[str, Any] | None = None) -> PublicationQueue:
        """The SQLite queue and blob folder inside ``state_dir`` (tests and scripts; commands use
        :func:`open_queue`)."""
        state_dir = Path(state_dir)
        return cls(SqliteStorage(state_dir / "queue.sqlite3"), FileBlobStore(state_dir / "blobs"), settings)

    @property
    def location(self) -> str:
        return self.storage.location

    def exists(self) -> bool:
        return self.storage.exists()

    def close(self) -> None:
        self.storage.close()

    def __enter__(self) -> PublicationQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self, write: bool = True):
        return self.storage.transaction(write=write)

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
        artifact_path: str | None = None,
        scan: dict[str, Any] | None = None,
        sha256: str | None = None,
        waits_for: list[int] | None = None,
    ) -> tuple[QueueEntry, bool]:
        """Add one artifact version for ``target``; return (its entry, whether anything changed).

        The same version twice is a no-op. A new version supersedes every older one of the same
        (session, kind, target) that is not yet published, so an old version is never
        published after a newer one; re-enqueueing an older version makes it the newest again.

        ``scan`` is what the publishing scan decided (stored in the ``findings`` column): with
        ``scan["held"]`` set the entry is ``held`` instead of ``queued``, unless a person
        already approved this very version. ``sha256`` is the hash of the main file as
        generated when ``files`` is a redacted copy (default: the stored main file's).

        ``waits_for``: ids of entries this one waits for (it is not claimed before they are
        published); given for a version already enqueued and not yet published, it replaces
        what that entry waited for. Entries waiting for an older version of this artifact at
        this target wait for this one instead.
        """
        main = f"{kind}.{ext}"
        if main not in files:
            raise UsageError(f"artifact {kind!r} has no main file {main!r}")
        blobs = {name: self.blobs.put(data) for name, data in sorted(files.items())}
        key = idempotency_key(target, session_id, kind, version_digest(blobs))
        now = self.storage.now()
        with self._tx() as tx:
            # The versions first: on a shared backend reading them locks the slot, so the key
            # looked up next cannot be inserted by anyone else before this transaction ends.
            versions = tx.versions(target, session_id, kind)
            existing = tx.find_key(key)
            latest = versions[-1] if versions else None
            if existing is not None and latest is not None and existing.id == latest.id:
                changes: dict[str, Any] = {}
                if session_path and not existing.session_path and existing.status in ("queued", "failed", "held"):
                    changes.update(session_path=session_path, artifact_path=artifact_path)
                if waits_for is not None and waits_for != (existing.waits_for or []) and existing.status in _MOVABLE:
                    changes["waits_for"] = waits_for or None
                if changes:  # what an entry waits for is not shown in its session file
                    tx.update(existing.id, changes, now=now, state="session_path" in changes)
                    existing = tx.get(existing.id)
                return existing, False  # type: ignore[return-value]
            seq = (latest.seq + 1) if latest is not None else 1
            approved = (existing.findings or {}).get("approved") if existing is not None else None
            if scan is not None and approved:
                scan = {**scan, "approved": approved}  # a person's decision on these very bytes stands
            status = "held" if scan and scan.get("held") and not approved else "queued"
            if existing is not None:
                tx.update(existing.id, {
                    "status": status, "seq": seq, "attempts": 0, "interruptions": 0, "last_error": None,
                    "next_attempt_at": now, "receipt": None, "published_at": None, "progress": None,
                    "meta": meta, "session_path": session_path, "artifact_path": artifact_path, "mirrored": 0,
                    "findings": scan, "waits_for": waits_for or None,
                }, now=now)
                row_id = existing.id
            else:
                row_id = tx.insert(NewEntry(
                    key=key, target=target, session_id=session_id, session_type=session_type, kind=kind, ext=ext,
                    sha256=sha256 or blobs[main], seq=seq, files=blobs, meta=meta, session_path=session_path,
                    artifact_path=artifact_path, now=now, session_host=LOCAL_HOST if session_path else None,
                    waits_for=waits_for or None,
                ))
                if scan is not None:
                    tx.update(row_id, {"status": status, "findings": scan}, now=now, state=False)
            replaced = [older.id for older in versions
                        if older.id != row_id and older.status in ("queued", "failed", "dead", "publishing", "held")]
            for older_id in replaced:
                tx.update(older_id, {"status": "superseded"}, now=now)
            # Whoever waited for a version nobody publishes now waits for this one.
            for waiting in tx.dependents(replaced):
                if waiting.status in _MOVABLE and waiting.id != row_id:
                    moved = list(dict.fromkeys(row_id if i in replaced else i for i in waiting.waits_for or ()))
                    tx.update(waiting.id, {"waits_for": moved}, now=now, state=False)
            entry = tx.get(row_id)
        self.storage.notify(target)
        return entry, True  # type: ignore[return-value]

    # -- review: held entries -------------------------------------------------------------

    def approve(self, entry_id: int) -> QueueEntry:
        """A person approves a held (or rejected) entry: it is queued as it is, due now, and marked
        approved, so the same bytes enqueued again are not held again."""
        now = self.storage.now()
        with self._tx() as tx:
            entry = tx.get(entry_id)
            if entry is None:
                raise UsageError(f"no queue entry with id {entry_id}")
            if entry.status not in ("held", "rejected"):
                raise UsageError(f"entry {entry_id} is {entry.status}, not held; only held (or rejected) entries "
                                 "are approved")
            tx.update(entry_id, {
                "status": "queued", "next_attempt_at": now, "attempts": 0, "interruptions": 0,
                "findings": {**(entry.findings or {}), "approved": iso(now)},
            }, now=now)
            approved = tx.get(entry_id)
        self.storage.notify(approved.target)  # type: ignore[union-attr]  # a waiting worker takes it now
        return approved  # type: ignore[return-value]

    def newest(self, target: str, session_id: str, kind: str) -> QueueEntry | None:
        """The newest version of one artifact at one target, None when there is none."""
        with self._tx(write=False) as tx:
            versions = tx.versions(target, session_id, kind)
        return versions[-1] if versions else None

    def version_entries(self, entry: QueueEntry) -> list[QueueEntry]:
        """Every target's entry of the same artifact version as ``entry`` (same session, kind and
        generated main file), ``entry`` included."""
        with self._tx(write=False) as tx:
            return _same_version(tx, entry)

    def reject(self, entry_id: int) -> list[QueueEntry]:
        """A person rejects an entry's version: every target's entry of it that is not published
        becomes ``rejected`` (never published). Returns every target's entry of the version,
        as they are now (published ones are out of flywheel's reach and say so by their state)."""
        now = self.storage.now()
        with self._tx() as tx:
            entry = tx.get(entry_id)
            if entry is None:
                raise UsageError(f"no queue entry with id {entry_id}")
            if entry.status in ("published", "superseded"):
                raise UsageError(f"entry {entry_id} is {entry.status}; only an entry that is not published can "
                                 "be rejected")
            out = []
            for other in _same_version(tx, entry):
                if other.status not in ("published", "superseded", "rejected"):
                    # A publisher holding it now still records a success (the truth), never a failure.
                    tx.update(other.id, {"status": "rejected"}, now=now)
                out.append(tx.get(other.id))
            return out  # type: ignore[return-value]

    # -- claiming -------------------------------------------------------------------------

    def _holds(self, entry: QueueEntry, now: float) -> bool:
        """Whether a live publisher holds ``entry``'s lease now."""
        return bool(entry.lease_owner) and (entry.lease_until or 0) > now and owner_alive(entry.lease_owner)

    def _next_batch(
        self, tx: StorageTransaction, target: str, now: float, skip: set[int], limit: int
    ) -> tuple[list[QueueEntry], list[QueueEntry]]:
        """(the entries the next claim of ``target`` takes, in order; those it finds past saving).

        An entry whose publisher died (lease expired, or its local process gone) is due again;
        that try counts as an interruption, not an attempt. Suspects (interrupted repeatedly)
        go after everything else, in batches that halve with every further interruption.
        """
        busy = {e.slot for e in tx.leased(target) if self._holds(e, now)}
        max_interruptions = int(self.settings["max_interruptions"])
        batch: list[QueueEntry] = []
        suspects: list[QueueEntry] = []
        hopeless: list[QueueEntry] = []
        # Candidates come a page of ``limit`` at a time (on PostgreSQL each page is row-locked,
        # rows others locked skipped), until the batch is full or none are left: due entries
        # first, then those whose publisher died (expired or dead local leases).
        for leased in (False, True):
            after: tuple[int, int] | None = None
            while len(batch) < limit:
                page = tx.claimable(target, now, LOCAL_HOST, limit=limit, after=after, leased=leased)
                for entry in page:
                    if entry.id in skip or entry.slot in busy or (leased and self._holds(entry, now)):
                        continue
                    interruptions = _interruptions(entry)
                    if interruptions >= max_interruptions:
                        hopeless.append(entry)
                    elif interruptions >= _SUSPECT_AFTER:
                        suspects.append(entry)
                    elif len(batch) < limit:
                        batch.append(entry)
                        busy.add(entry.slot)
                if len(page) < limit:
                    break
                after = (page[-1].seq, page[-1].id)
        if not batch and suspects:
            suspects.sort(key=lambda e: (_interruptions(e), e.seq, e.id))  # the least suspect first, in turn
            size = max(1, min(limit, len(suspects) >> (_interruptions(suspects[0]) - _SUSPECT_AFTER)))
            for entry in suspects:
                if len(batch) < size and entry.slot not in busy:
                    batch.append(entry)
                    busy.add(entry.slot)
        return batch, hopeless

    def claim(self, target: str, *, limit: int = 500, exclude: Iterable[int] = ()) -> list[QueueEntry]:
        """Lease the next batch of due entries of ``target`` (at most ``limit``) to this publisher."""
        now = self.storage.now()
        lease_until = now + float(self.settings["lease_seconds"])
        with self._tx() as tx:
            batch, hopeless = self._next_batch(tx, target, now, set(exclude), limit)
            for entry in hopeless:
                times = entry.interruptions + 1
                tx.update(entry.id, {
                    "status": "dead", "lease_owner": None, "lease_until": None, "interruptions": times,
                    "attempts": max(0, entry.attempts - 1),
                    "last_error": f"its publisher stopped before finishing, {times} times (killed, or crashed "
                                  "while publishing it); look for the cause in the publisher's output",
                }, now=now)
            for entry in batch:
                interrupted = entry.status == "publishing"
                tx.update(entry.id, {
                    "status": "publishing",
                    # An interrupted try is given back: the new one takes its place.
                    "attempts": entry.attempts if interrupted else entry.attempts + 1,
                    "interruptions": entry.interruptions + interrupted,
                    "lease_owner": self.owner,
                    "lease_until": lease_until,
                }, now=now)
            # One read of the whole batch (not one per entry), back in claim order.
            claimed = {e.id: e for e in tx.select(ids=[e.id for e in batch])} if batch else {}
            return [claimed[e.id] for e in batch]

    def batches(self, target: str, *, limit: int = 500) -> list[list[QueueEntry]]:
        """What successive claims of ``target`` would take now, batch by batch (nothing is changed)."""
        now = self.storage.now()
        out: list[list[QueueEntry]] = []
        skip: set[int] = set()
        with self._tx(write=False) as tx:
            while batch := self._next_batch(tx, target, now, skip, limit)[0]:
                out.append(batch)
                skip.update(e.id for e in batch)
        return out

    def due(self, target: str | None = None) -> list[QueueEntry]:
        """Every entry a publisher would claim now (of one target, or all), in claim order."""
        targets = [target] if target is not None else sorted({e.target for e in self.entries(statuses=PENDING)})
        return [e for name in targets for batch in self.batches(name) for e in batch]

    def next_due(self, targets: Iterable[str]) -> float | None:
        """When the next entry of ``targets`` becomes claimable (queue clock), None when none is pending."""
        with self._tx(write=False) as tx:
            return tx.next_due(list(targets))

    def release(self, ids: Iterable[int]) -> list[int]:
        """Give back this publisher's leases on ``ids`` before handing them to a target (a worker
        told to stop): due again at once, the try not counted. Returns the ids released."""
        now = self.storage.now()
        released = []
        with self._tx() as tx:
            for entry in tx.select(ids=list(ids)):
                if entry.lease_owner == self.owner and entry.status == "publishing":
                    tx.update(entry.id, {"status": "queued", "attempts": max(0, entry.attempts - 1),
                                         "lease_owner": None, "lease_until": None, "next_attempt_at": now}, now=now)
                    released.append(entry.id)
        if released:
            self.storage.notify("*")
        return released

    def renew(self, ids: Iterable[int]) -> list[int]:
        """Extend this publisher's leases on ``ids``; return those it still holds."""
        now = self.storage.now()
        until = now + float(self.settings["lease_seconds"])
        held = []
        with self._tx() as tx:
            for entry in tx.select(ids=list(ids)):
                if entry.lease_owner == self.owner:
                    tx.update(entry.id, {"lease_until": until}, now=now, state=False)
                    held.append(entry.id)
        return held

    @contextmanager
    def keep_leases(self, ids: Iterable[int]) -> Iterator[None]:
        """Renew the leases on ``ids`` every third of ``lease_seconds`` while the block runs.

        A batch that takes longer than one lease (a slow push, a rate limit waited out) keeps
        its entries; a publisher that dies stops renewing, and its leases expire.
        """
        wanted = list(ids)
        interval = float(self.settings["lease_seconds"]) / 3
        stop = threading.Event()

        def renew() -> None:
            other = PublicationQueue(self.storage.clone(), self.blobs, self.settings, owner=self.owner)
            try:
                held = wanted
                while held and not stop.wait(interval):
                    now_held = other.renew(held)
                    if len(now_held) < len(held):
                        lost = sorted(set(held) - set(now_held))
                        log.warning("lost the lease on queue entries %s (another publisher took them over)",
                                    ", ".join(map(str, lost)))
                    held = now_held
            except FlywheelError as exc:
                log.warning("could not renew leases: %s", exc)
            finally:
                other.close()

        thread = threading.Thread(target=renew, name="flywheel-lease-renewal", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # -- what a target is handed, and its answers -----------------------------------------

    def item(self, entry: QueueEntry) -> PublishItem:
        """The PublishItem for an entry: the exact bytes enqueued, and the metadata targets use."""
        files = {name: self.blobs.get(digest) for name, digest in entry.files.items()}
        meta = dict(entry.meta)
        with self._tx(write=False) as tx:
            published = [v for v in tx.versions(entry.target, entry.session_id, entry.kind)
                         if v.seq < entry.seq and v.published_at is not None]
        if published:
            previous = max(published, key=lambda v: (v.published_at, v.seq))
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
            # Interrupted tries count here: the target may have got that far, so it looks first.
            attempts=entry.attempts + entry.interruptions,
            key=entry.key,
            progress=dict(entry.progress or {}),
        )

    def save_progress(self, entry_id: int, progress: dict[str, Any]) -> None:
        """Store a target's checkpoint for an entry this publisher holds the lease of."""
        now = self.storage.now()
        with self._tx() as tx:
            entry = tx.get(entry_id)
            if entry is not None and entry.lease_owner == self.owner:
                tx.update(entry_id, {"progress": redact_json(progress)}, now=now, state=False)

    def record(self, result: PublishResult) -> QueueEntry | None:
        """Store a target's answer for an entry.

        Success is recorded whoever holds the lease (the content is at the target: that is the
        truth); a failure only by the lease holder, so a stale publisher cannot undo a newer try.
        """
        now = self.storage.now()
        with self._tx() as tx:
            entry = tx.get(result.item_id)
            if entry is None:
                return None
            if result.ok:
                receipt = redact_json(result.receipt)
                if entry.status == "published":
                    pass  # another publisher recorded it first; its receipt stays
                elif entry.status == "superseded":
                    tx.update(entry.id, {"receipt": receipt, "published_at": now, "lease_owner": None,
                                         "lease_until": None}, now=now)
                else:
                    tx.update(entry.id, {"status": "published", "receipt": receipt, "published_at": now,
                                         "last_error": None, "lease_owner": None, "lease_until": None}, now=now)
            elif entry.lease_owner == self.owner:
                error = result.error or "the target reported a failure without a message"
                if result.retry_after is not None and not result.permanent:
                    self._defer(tx, entry, error, now, max(0.0, float(result.retry_after)))
                else:
                    self._fail(tx, entry, error, now, permanent=result.permanent)
            entry = tx.get(entry.id)
        if result.ok and entry is not None and self.storage.shared:  # SQLite workers poll: nobody to wake
            self._wake_dependents(entry.id)
        return entry

    def _wake_dependents(self, entry_id: int) -> None:
        """Wake the workers of the targets whose entries wait for ``entry_id`` (now published)."""
        with self._tx(write=False) as tx:
            targets = {e.target for e in tx.dependents([entry_id]) if e.status in ("queued", "failed")}
        for target in sorted(targets):
            self.storage.notify(target)

    def fail(self, entry_id: int, error: str, *, permanent: bool = False) -> QueueEntry | None:
        """Record a failure of an entry this publisher leased (``permanent``: straight to dead)."""
        now = self.storage.now()
        with self._tx() as tx:
            entry = tx.get(entry_id)
            if entry is None or entry.lease_owner != self.owner:
                return entry
            self._fail(tx, entry, error, now, permanent=permanent)
            return tx.get(entry_id)

    def _defer(self, tx: StorageTransaction, entry: QueueEntry, error: str, now: float, delay: float) -> None:
        """The target asked to wait (a rate limit): try again after ``delay``, attempt not spent."""
        if entry.status == "rejected":
            self._fail(tx, entry, error, now)
            return
        tx.update(entry.id, {
            "status": "superseded" if entry.status == "superseded" else "failed",
            "last_error": _one_line(error), "next_attempt_at": now + delay, "attempts": max(0, entry.attempts - 1),
            "lease_owner": None, "lease_until": None,
        }, now=now)

    def _fail(self, tx: StorageTransaction, entry: QueueEntry, error: str, now: float, permanent: bool = False) -> None:
        message = _one_line(error)
        if entry.status in ("superseded", "rejected"):  # no retry for what nobody wants published
            tx.update(entry.id, {"last_error": message, "lease_owner": None, "lease_until": None}, now=now)
            return
        dead = permanent or entry.attempts >= int(self.settings["max_attempts"])
        tx.update(entry.id, {
            "status": "dead" if dead else "failed", "last_error": message,
            "next_attempt_at": now + (0 if dead else self.backoff(entry.attempts)),
            "lease_owner": None, "lease_until": None,
        }, now=now)

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try: exponential in the attempts so far, capped, with jitter."""
        base = float(self.settings["backoff_seconds"])
        cap = float(self.settings["backoff_max_seconds"])
        delay = min(cap, base * (2 ** max(0, attempts - 1)))
        # Jitter spreads retries of many items (and many publishers) apart.
        return delay * random.uniform(0.5, 1.0)

    # -- inspecting, retrying, mirroring --------------------------------------------------

    def get(self, entry_id: int) -> QueueEntry | None:
        with self._tx(write=False) as tx:
            return tx.get(entry_id)

    def entries(
        self, status: str | None = None, *, statuses: Iterable[str] | None = None, targets: Iterable[str] | None = None
    ) -> list[QueueEntry]:
        """Entries by id, optionally only in ``status`` (or ``statuses``) and for ``targets``."""
        wanted = [status] if status is not None else (list(statuses) if statuses is not None else None)
        with self._tx(write=False) as tx:
            return tx.select(statuses=wanted, targets=targets)

    def waiting(self, targets: Iterable[str] | None = None) -> list[QueueEntry]:
        """Pending entries that are not due now: leased by a live publisher, backing off, or
        waiting for others (see :meth:`unmet`)."""
        due = {e.id for e in self.due()}
        return [e for e in self.entries(statuses=PENDING, targets=targets) if e.id not in due]

    def unmet(self, entries: Iterable[QueueEntry]) -> dict[int, list[QueueEntry]]:
        """What each of ``entries`` still waits for: by entry id, the entries its ``waits_for``
        names that are not published or superseded yet. Entries waiting for nothing are left out."""
        entries = [e for e in entries if e.waits_for]
        wanted = sorted({i for e in entries for i in e.waits_for or ()})
        if not wanted:
            return {}
        with self._tx(write=False) as tx:
            found = {p.id: p for p in tx.select(ids=wanted)}
        out: dict[int, list[QueueEntry]] = {}
        for entry in entries:
            left = [found[i] for i in entry.waits_for or () if i in found and found[i].status not in DONE]
            if left:
                out[entry.id] = left
        return out

    def target_order(self, names: Iterable[str]) -> list[str]:
        """``names`` in the order to publish to them: a target whose entries others wait for
        before the targets of those others (a site before the social networks that link to it);
        otherwise as given."""
        names = list(names)
        with self._tx(write=False) as tx:
            waiting = tx.select(statuses=PENDING, targets=names, waiting=True)
        target_of = {e.id: e.target for e in waiting}
        first: dict[str, set[str]] = {name: set() for name in names}
        for entry_id, ahead in self.unmet(waiting).items():
            target = target_of[entry_id]
            first[target].update(e.target for e in ahead if e.target in first and e.target != target)
        order: list[str] = []
        while len(order) < len(names):
            left = [n for n in names if n not in order]
            # The first target whose prerequisites are placed (in a circle, the first one left).
            order.append(next((n for n in left if first[n] <= set(order)), left[0]))
        return order

    def for_session_file(self, session_path: str) -> list[QueueEntry]:
        """Every entry whose outcome is recorded in the session file at ``session_path``."""
        with self._tx(write=False) as tx:
            return tx.select(session_path=session_path)

    def unmirrored_session_files(self) -> list[str]:
        """Session files that do not show the latest state of all their entries."""
        with self._tx(write=False) as tx:
            return sorted({e.session_path for e in tx.select(unmirrored=True) if e.session_path})

    def session_files(self) -> dict[str, str]:
        """Every session file entries record their outcome in, with the stamp flywheel last left it with."""
        with self._tx(write=False) as tx:
            return tx.session_files()

    def file_synced(self, session_path: str, marks: Iterable[tuple[int, int]], stamp: str) -> None:
        """Record that the session file now shows these (entry id, revision) pairs, and its stamp."""
        with self._tx() as tx:
            tx.mark_mirrored(list(marks))
            tx.set_session_file(session_path, stamp)

    def retry(self, entry_id: int | None = None, *, targets: Iterable[str] | None = None) -> list[int]:
        """Make failed/dead entries due now with fresh attempts (one by id, or all); return their ids."""
        now = self.storage.now()
        with self._tx() as tx:
            if entry_id is None:
                ids = [e.id for e in tx.select(statuses=("failed", "dead"), targets=targets)]
            else:
                entry = tx.get(entry_id)
                if entry is None:
                    raise UsageError(f"no queue entry with id {entry_id}")
                if entry.status == "held":
                    raise UsageError(f"entry {entry_id} is held for review: `flywheel review show {entry_id}`, "
                                     "then approve or reject it")
                if entry.status not in ("failed", "dead", "queued"):
                    raise UsageError(f"entry {entry_id} is {entry.status}; only failed or dead entries are retried")
                ids = [entry_id]
            for row_id in ids:
                tx.update(row_id, {"status": "queued", "attempts": 0, "interruptions": 0, "next_attempt_at": now},
                          now=now)
        if ids:
            self.storage.notify("*")
        return ids

    def stats(self) -> dict[str, Any]:
        with self._tx(write=False) as tx:
            rows, oldest = tx.counts()
        counts: dict[str, dict[str, int]] = {}
        for target, status, n in rows:
            counts.setdefault(target, dict.fromkeys(STATUSES, 0))[status] = n
        return {"targets": counts, "due_now": len(self.due()), "oldest_pending": iso(oldest),
                "blobs": self.blobs.count(), "path": self.location}


def _same_version(tx: StorageTransaction, entry: QueueEntry) -> list[QueueEntry]:
    """Every target's entry of ``entry``'s artifact version (session, kind, generated main file)."""
    targets = sorted({target for target, _, _ in tx.counts()[0]})
    return sorted((e for t in targets for e in tx.versions(t, entry.session_id, entry.kind) if e.sha256 == entry.sha256),
                  key=lambda e: e.id)


def _one_line(error: str) -> str:
    return " ".join(redact(error).split())[:2000]


def redact_json(value: Any) -> Any:
    """``value`` with every string in it redacted (receipts, checkpoints)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): redact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v) for v in value]
    return value
