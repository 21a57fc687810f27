"""Reviewing held entries: what a held entry would publish, approving, rejecting and allowing its findings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from flywheel_core.errors import UsageError
from flywheel_core.publishing.mirror import mend_session_files
from flywheel_core.publishing.queue import PublicationQueue, open_queue
from flywheel_core.publishing.storage import QueueEntry
from flywheel_core.scanning import Finding, add_to_allowlist, load_allowlist
from flywheel_core.scanning.media import image_format

if TYPE_CHECKING:
    from flywheel_core.config import Config

__all__ = ["ReviewOutcome", "allow", "approve", "finding_context", "findings_of", "held_entries", "reject",
           "review_json"]


@attrs.define
class ReviewOutcome:
    """What a review command did: the entries it changed, the other targets' entries of the same
    version (with their state now), and how many allow-list entries it added."""

    entry: QueueEntry
    changed: list[QueueEntry] = attrs.field(factory=list)
    others: list[QueueEntry] = attrs.field(factory=list)
    allowed: int = 0


def _open(config: Config) -> PublicationQueue:
    queue = open_queue(config)
    if not queue.exists():
        raise UsageError(f"the publication queue {queue.location} does not exist yet: nothing was ever enqueued")
    return queue


def _entry(queue: PublicationQueue, entry_id: int) -> QueueEntry:
    entry = queue.get(entry_id)
    if entry is None:
        raise UsageError(f"no queue entry with id {entry_id}")
    return entry


def findings_of(entry: QueueEntry) -> list[Finding]:
    """The masked findings the scan stored for ``entry``."""
    return [Finding.from_dict(f) for f in (entry.findings or {}).get("findings") or []]


def held_entries(config: Config, targets: list[str] | None = None) -> list[QueueEntry]:
    """Every held entry (of ``targets``), by id; none when the queue was never created."""
    queue = open_queue(config)
    if not queue.exists():
        return []
    with queue:
        return queue.entries("held", targets=targets)


def review_json(entry: QueueEntry) -> dict[str, Any]:
    """One held entry for ``--json``: its queue id, session, kind, target and masked findings."""
    scan = entry.findings or {}
    return {
        "id": entry.id,
        "session_id": entry.session_id,
        "session_type": entry.session_type,
        "kind": entry.kind,
        "target": entry.target,
        "status": entry.status,
        "held": scan.get("held"),
        "policy": scan.get("policy"),
        "reason": scan.get("reason"),
        "approved": scan.get("approved"),
        "findings": scan.get("findings") or [],
        "files": sorted(entry.files),
        "artifact_path": entry.artifact_path,
        "session_path": entry.session_path,
    }


def finding_context(queue: PublicationQueue, entry: QueueEntry, finding: Finding, width: int = 100) -> str | None:
    """The line of a text file a finding is on, each finding on it replaced by its masked
    preview (a person sees where it is; the terminal never shows a value); None for session
    and metadata findings, and for images."""
    digest = entry.files.get(finding.file)
    if digest is None:
        return None
    data = queue.blobs.get(digest)
    if image_format(data):
        return None
    text = data.decode("utf-8", "replace")
    start = text.rfind("\n", 0, finding.start) + 1
    stop = text.find("\n", finding.end)
    stop = len(text) if stop < 0 else stop
    parts: list[str] = []
    last, at = start, 0
    for other in sorted((f for f in findings_of(entry) if f.file == finding.file and f.end > start and f.start < stop),
                        key=lambda f: f.start):
        if other.start < last:
            continue  # overlaps the one just masked
        parts.append(text[last:other.start])
        if other == finding:
            at = sum(map(len, parts))
        parts.append(other.preview)
        last = other.end
    parts.append(text[last:max(last, stop)])
    line = "".join(parts)
    keep = max(10, (width - len(finding.preview)) // 2)
    left, right = max(0, at - keep), at + len(finding.preview) + keep
    return ("…" if left else "") + line[left:right] + ("…" if right < len(line) else "")


def approve(config: Config, entry_id: int, *, allow_findings: bool = False, note: str = "") -> ReviewOutcome:
    """Queue a held (or rejected) entry as it is, marked approved; ``allow_findings``: add its
    findings to the allow-list first, so they are not held again anywhere."""
    with _open(config) as queue:
        entry = _entry(queue, entry_id)
        added = add_to_allowlist(config.allowlist_path, findings_of(entry), note) if allow_findings else 0
        approved = queue.approve(entry_id)
        others = [e for e in queue.version_entries(approved) if e.id != entry_id]
        mend_session_files(config, queue, [approved.session_path] if approved.session_path else [])
    return ReviewOutcome(approved, [approved], others, added)


def reject(config: Config, entry_id: int) -> ReviewOutcome:
    """Reject an entry's version at every target: none of its entries is ever published."""
    with _open(config) as queue:
        entry = _entry(queue, entry_id)
        before = {e.id: e.status for e in queue.version_entries(entry)}
        after = queue.reject(entry_id)
        changed = [e for e in after if before.get(e.id) != e.status]
        mend_session_files(config, queue, sorted({e.session_path for e in after if e.session_path}))
        entry = _entry(queue, entry_id)
    return ReviewOutcome(entry, changed, [e for e in after if e.id != entry_id])


def allow(config: Config, entry_id: int, *, note: str = "") -> ReviewOutcome:
    """Add an entry's findings to the allow-list, then queue every held entry whose findings
    are all allowed now (it was held for nothing else): the allow-list says they are not secret."""
    with _open(config) as queue:
        entry = _entry(queue, entry_id)
        found = findings_of(entry)
        if not found:
            raise UsageError(f"entry {entry_id} has no findings to allow"
                             + (" (it waits for review: approve it)" if entry.status == "held" else ""))
        added = add_to_allowlist(config.allowlist_path, found, note)
        allowed = load_allowlist(config.allowlist_path)
        released = []
        for held in queue.entries("held"):
            record = held.findings or {}
            if record.get("held") in ("findings", "unredactable") and all((f.rule, f.fingerprint) in allowed for f in findings_of(held)):
                released.append(queue.approve(held.id))
        mend_session_files(config, queue, sorted({e.session_path for e in released if e.session_path}))
        entry = _entry(queue, entry_id)
    return ReviewOutcome(entry, released, [], added)
