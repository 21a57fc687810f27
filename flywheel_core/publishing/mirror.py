"""Mirroring the queue into session files: the queue is the truth, each file shows it, and is mended when it does not."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from flywheel_core.errors import FlywheelError
from flywheel_core.models import ArtifactRecord, Session, converter
from flywheel_core.publishing.crash import crash_point
from flywheel_core.redaction import redact
from flywheel_core.store import SessionStore, dumps_session

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.publishing.queue import PublicationQueue
    from flywheel_core.publishing.storage import QueueEntry

# The queue's rows (storage) are imported only where a queue's entries are shown: a run with no
# queue records its session file through this module without loading them.

__all__ = [
    "file_stamp",
    "mend_session_files",
    "show_queue_state",
    "sync_session_file",
    "take_over_record",
    "written_by_flywheel",
]

log = logging.getLogger("flywheel.queue")


class _Unchanged(Exception):
    """Raised inside a session update to leave a file that already shows everything untouched."""


def file_stamp(path: str | Path) -> str:
    """What tells that a file was rewritten: inode, size and modification time ("missing" if gone)."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def written_by_flywheel(record: ArtifactRecord, path: str | None, generators: Iterable[str]) -> bool:
    """Whether flywheel wrote ``record`` (on an earlier run), not an agent: it points at the file
    flywheel writes now, or names one of flywheel's generator plugins."""
    if path and record.path and os.path.abspath(record.path) == os.path.abspath(path):
        return True
    return bool(record.generated and record.generator and record.generator in set(generators))


def take_over_record(session: Session, kind: str, *, ours: bool) -> tuple[ArtifactRecord, str | None]:
    """The record of ``artifacts.<kind>`` flywheel is about to fill in, and a warning if any.

    Nothing an agent wrote is lost: a record flywheel did not write is moved under
    ``artifacts.<kind>.previous`` (and said so); flywheel's own record is updated in place.
    """
    old = session.artifacts.get(kind)
    if old is None:
        record = session.artifacts[kind] = ArtifactRecord()
        return record, None
    kept = converter.unstructure(old)
    if ours or not kept:
        return old, None
    record = session.artifacts[kind] = ArtifactRecord(extra={"previous": kept})
    where = f" (path {old.path})" if old.path else ""
    return record, (f"artifacts.{kind} held a record flywheel did not write{where}; "
                    f"it is kept under artifacts.{kind}.previous")


def _show(record: ArtifactRecord, per_target: dict[str, QueueEntry]) -> None:
    """Write the queue's state of one version, per target, into its record."""
    from flywheel_core.publishing.storage import iso

    errors = []
    for target, entry in sorted(per_target.items()):
        if entry.status == "published":
            record.published_to[target] = entry.receipt or {}
        elif entry.status in ("failed", "dead"):
            record.published_to[target] = {
                "status": entry.status,
                "error": entry.last_error or "",
                "attempts": entry.attempts,
                "queue_entry": entry.id,
                **({"next_attempt_at": iso(entry.next_attempt_at)} if entry.status == "failed" else {}),
            }
            errors.append(f"{target}: {entry.last_error or entry.status}")
        elif entry.status in ("held", "rejected"):
            scan = entry.findings or {}
            record.published_to[target] = {
                "status": entry.status,
                "queue_entry": entry.id,
                **({"held": scan.get("held"), "findings": len(scan.get("findings") or [])}
                   if entry.status == "held" else {}),
            }
        else:
            record.published_to.pop(target, None)
    statuses = {e.status for e in per_target.values()}
    if statuses & {"failed", "dead"}:
        record.status = "failed"
    elif "held" in statuses:
        record.status = "held"
    elif statuses - {"rejected"} == {"published"}:
        record.status = "published"
    elif statuses == {"rejected"}:
        record.status = "rejected"
    else:
        record.status = "queued"
    record.errors = errors


def show_queue_state(session: Session, entries: list[QueueEntry]) -> tuple[list[tuple[int, int]], list[str]]:
    """Bring ``session``'s artifact records in line with its queue entries (in memory).

    Each record shows, per target, the state of the newest entry of the version it records. A
    version that was enqueued but never shown in the file (the run that made it was stopped
    before it could record it) becomes the recorded one. Returns the (entry id, revision)
    pairs the file now shows, and warnings.
    """
    marks = [(e.id, e.revision) for e in entries]
    notes: list[str] = []
    newest: dict[str, dict[str, QueueEntry]] = {}
    for entry in entries:
        if entry.session_id != session.session_id:
            notes.append(f"holds session {session.session_id}, not {entry.session_id}; "
                         f"the publication state of queue entry {entry.id} is not recorded there")
            continue
        current = newest.setdefault(entry.kind, {}).get(entry.target)
        if current is None or entry.seq > current.seq:
            newest[entry.kind][entry.target] = entry
    for kind, per_target in sorted(newest.items()):
        record = session.artifacts.get(kind)
        unseen = [e for e in per_target.values()
                  if e.mirrored == 0 and e.artifact_path and (record is None or record.sha256 != e.sha256)]
        if unseen:
            entry = max(unseen, key=lambda e: (e.updated_at, e.id))
            ours = record is None or written_by_flywheel(record, entry.artifact_path, [str(entry.meta.get("generator"))])
            record, warning = take_over_record(session, kind, ours=ours)
            if warning:
                notes.append(warning)
            folder = Path(entry.artifact_path or "").parent
            record.generated = True
            record.path = entry.artifact_path
            record.sha256 = entry.sha256
            record.generator = str(entry.meta.get("generator") or "") or record.generator
            record.files = sorted(str(folder / name) for name in entry.files if name != f"{kind}.{entry.ext}")
        if record is None:
            continue
        shown = {t: e for t, e in per_target.items() if e.sha256 == record.sha256}
        if shown:
            _show(record, shown)
    return marks, notes


def sync_session_file(config: Config, queue: PublicationQueue, session_path: str) -> None:
    """Make one session file show the queue's state of its entries, under the file's lock.

    The state is read from the queue while the lock is held, so a slower process can never
    write an older state over a newer one. A file that already shows everything is not
    rewritten; a file that is gone or unreadable is a warning, not a failure.
    """
    marks: list[tuple[int, int]] = []

    def change(session: Session) -> None:
        before = dumps_session(converter.unstructure(session))
        found, notes = show_queue_state(session, queue.for_session_file(session_path))
        marks[:] = found
        for note in notes:
            log.warning("%s: %s", session_path, note)
        if dumps_session(converter.unstructure(session)) == before:
            raise _Unchanged

    try:
        SessionStore(config.max_input_bytes).update(Path(session_path), change)
        crash_point("after_mirror_write")
    except _Unchanged:
        pass
    except (FlywheelError, OSError) as exc:  # unreadable, invalid, locked too long: the queue keeps the truth
        log.warning("could not record publication state in %s: %s", session_path, redact(str(exc)))
        if os.path.lexists(session_path):
            return  # try again next time
        marks = [(e.id, e.revision) for e in queue.for_session_file(session_path)]  # gone: nothing to mend
    queue.file_synced(session_path, marks, file_stamp(session_path))


def mend_session_files(config: Config, queue: PublicationQueue, session_paths: Iterable[str] | None = None) -> None:
    """Sync ``session_paths``; by default every session file that may not show its entries' state:
    one the queue changed since it was last written (a crash came between), or one rewritten by
    someone else since flywheel last left it (its stamp changed)."""
    if session_paths is not None:
        paths = sorted(set(filter(None, session_paths)))
    else:
        stale = set(queue.unmirrored_session_files())
        paths = sorted(p for p, stamp in queue.session_files().items() if p in stale or file_stamp(p) != stamp)
    for path in paths:
        sync_session_file(config, queue, path)
