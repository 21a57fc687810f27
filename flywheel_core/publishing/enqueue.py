"""Putting artifact versions into the queue: from a run (its records, with their bytes) and ``flywheel queue add``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flywheel_core.errors import InputError, UsageError
from flywheel_core.fsutil import PathRefused, confine
from flywheel_core.models import Session, converter
from flywheel_core.publishing.mirror import file_stamp, show_queue_state
from flywheel_core.publishing.queue import PublicationQueue, open_queue
from flywheel_core.publishing.screening import Screening
from flywheel_core.publishing.targets import check_target, takes
from flywheel_core.store import SessionStore
from flywheel_core.types import NAME_RE

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.plugins import PluginHost

__all__ = [
    "ArtifactVersion", "enqueue_file", "enqueue_versions", "linked_kind", "page_entries", "posts_only", "session_meta",
]

log = logging.getLogger("flywheel.queue")


@attrs.frozen
class ArtifactVersion:
    """One version of an artifact as the queue takes it.

    ``files`` maps a name relative to the artifact's folder to its bytes: the main file
    ``<kind>.<ext>`` and every attachment. ``meta`` is what targets are told (title, summary,
    tags, draft, date, session, generator...). ``path`` is where the main file was written,
    recorded in the session file.
    """

    kind: str
    ext: str
    files: dict[str, bytes]
    meta: dict[str, Any]
    path: str | None = None


def session_meta(session: Session, session_path: Path | None) -> dict[str, Any]:
    """What every artifact of a session carries into the queue about the session."""
    return {
        "date": session.when.isoformat().replace("+00:00", "Z"),
        "session_id": session.session_id,
        "session_type": session.session_type,
        "agent_id": session.agent_id,
        **({"session_path": str(session_path)} if session_path else {}),
    }


def enqueue_versions(
    queue: PublicationQueue,
    host: PluginHost,
    *,
    session_id: str,
    session_type: str,
    versions: list[ArtifactVersion],
    targets: list[str],
    session_path: Path | None,
    session: Session | dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Scan each version, then enqueue it for each of ``targets`` that takes its kind, as that
    target's scan policy says (``queue.scan_policy``: hold, redact or off); return the entries.

    ``session`` is the session the versions were made from (as the run has it, collected
    fields included); without it the file at ``session_path`` is read. Its fields are scanned
    too, with the hashes it declares and its commit authors.

    Each returned dict: id, session_id, kind, target, status (``held`` when the scan holds it),
    new (whether this call changed anything), sha256, and ``scan``: the entry's scan record
    (policy, held, masked findings; see :mod:`~flywheel_core.publishing.screening`). A version
    that is already dead stays dead (a warning says how to retry it).

    A version that links to a page of the session (a social post) waits for it at social
    networks: see :func:`page_entries`. Versions are enqueued in the order given, those linking
    to a page last.
    """
    if session_path is not None:
        _refuse_a_second_file(queue, session_id, versions, targets, Path(session_path))
    screening = Screening(queue.scan_policy, _session_doc(session, session_path),
                          str(session_path) if session_path else None)
    out: list[dict[str, Any]] = []
    # Pages before what links to them, so their entries exist to be waited for.
    for version in sorted(versions, key=lambda v: linked_kind(v) is not None):
        pages = page_entries(queue, host, session_id, version, versions)
        for name in targets:
            if not takes(host, name, version.kind):
                continue
            files, meta, record, sha = screening.decide(version, name)
            entry, changed = queue.enqueue(
                target=name, session_id=session_id, session_type=session_type, kind=version.kind, ext=version.ext,
                files=files, meta=meta, session_path=str(session_path) if session_path else None,
                artifact_path=version.path, scan=record, sha256=sha,
                waits_for=pages if posts_only(host, name) else None,
            )
            if entry.status == "dead":
                log.warning("%s -> %s: this version is dead (%s); `flywheel queue retry %d` tries it again",
                            version.kind, name, entry.last_error or "failed", entry.id)
            out.append({"id": entry.id, "session_id": session_id, "kind": version.kind, "target": name,
                        "status": entry.status, "new": changed, "sha256": entry.sha256, "scan": entry.findings})
    return out


def _refuse_a_second_file(
    queue: PublicationQueue, session_id: str, versions: list[ArtifactVersion], targets: list[str], session_path: Path
) -> None:
    """InputError when another session file on this machine holds ``session_id`` for a session of
    another time and the queue has artifacts of it: two sessions under one id would replace each
    other's pages and posts (an agent that copied a session file for its next session and kept
    the id). A file that moved, a copy of the same session (a second clone of the repository, the
    same timestamp) or one that no longer says that id is the same session: nothing is said."""
    from flywheel_core.publishing.storage import LOCAL_HOST
    from flywheel_core.timestamps import parse_timestamp

    when = next((v.meta.get("date") for v in versions if isinstance(v.meta.get("date"), str)), None)
    if when is None or not queue.exists():  # a queue not made yet holds nothing (and is not made here)
        return

    real = session_path.resolve()
    seen: set[str] = set()
    for version in versions:
        for target in targets:
            prior = queue.newest(target, session_id, version.kind)
            other = prior.session_path if prior is not None and prior.session_host in (None, LOCAL_HOST) else None
            if not other or other in seen:
                continue
            seen.add(other)
            try:
                if Path(other).resolve() == real or not Path(other).is_file():
                    continue
                doc = SessionStore().read_raw(Path(other))
                claims = (doc.get("session_id") == session_id
                          and parse_timestamp(doc["timestamp"])[0] != parse_timestamp(when)[0])
            except (OSError, RuntimeError, InputError, ValueError, KeyError, TypeError):
                continue  # unreadable: it cannot be told apart, and the run goes on
            if claims:
                raise InputError(str(session_path), "$.session_id",
                                 f"{session_id!r} is already the id of {other}, a session of {doc['timestamp']}, whose "
                                 "artifacts are in the queue: give this session its own id (two sessions under one id "
                                 "replace each other's pages and posts)")
            return


def linked_kind(version: ArtifactVersion) -> str | None:
    """The kind of the session's artifact whose page ``version`` links to (``meta.social.link``,
    ``meta.social.link_kind``): "" when the kind is not named, None when it links to no page."""
    social = version.meta.get("social")
    if not isinstance(social, dict) or not social.get("link"):
        return None
    kind = social.get("link_kind")
    return kind if isinstance(kind, str) else ""


def posts_only(host: PluginHost, target: str) -> bool:
    """Whether ``target`` is a social network: it takes ``social_post`` artifacts and nothing else."""
    return host.target(target)[1].kinds == ("social_post",)


def page_entries(
    queue: PublicationQueue, host: PluginHost, session_id: str, version: ArtifactVersion,
    versions: list[ArtifactVersion],
) -> list[int] | None:
    """Who waits for whom: the entries ``version``'s entries at social networks wait for (None: it
    links to no page).

    A version linking to a page of the session (``meta.social.link``) is published to a social
    network (:func:`posts_only`: a post cannot be taken back) only after that page: the newest
    entry of the page's artifact (kind ``meta.social.link_kind``; not named: every kind of
    ``versions`` that links to nothing) at each target whose plugin gives pages their URLs
    (implements ``flywheel_page_url``: the website; every target of such a plugin that takes
    the kind, when it owns several: better wait once too often than post a dead link). Targets
    keeping a copy of the post (a repository) do not wait. Without a website there is no link,
    and nothing waits.
    """
    page = linked_kind(version)
    if page is None:
        return None
    kinds = [page] if page else [v.kind for v in versions if linked_kind(v) is None]
    owners = set(host.plugins_implementing("flywheel_page_url"))
    ids = []
    for name, (plugin, target) in sorted(host.targets.items()):
        if plugin in owners:
            ids += [e.id for kind in kinds if target.takes(kind) and (e := queue.newest(name, session_id, kind))]
    return sorted(ids)


def _session_doc(session: Session | dict[str, Any] | None, session_path: Path | None) -> dict[str, Any] | None:
    """The session document to scan: the one given, else the file (None when there is neither)."""
    if isinstance(session, Session):
        return converter.unstructure(session)
    if session is not None:
        return session
    if session_path is None:
        return None
    try:
        doc = SessionStore().read_raw(Path(session_path))
    except InputError as exc:
        log.warning("%s: not scanned with its artifacts: %s", session_path, exc)
        return None
    return doc if isinstance(doc, dict) else None


def _recorded_attachments(names: list[str], folder: Path) -> dict[str, bytes]:
    """The attachments a session's record lists (images of a devlog...), read only inside ``folder``."""
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
    """``flywheel queue add``: enqueue one file from the output folder for the named targets.

    With ``session_path``, the entries belong to that session: its record of ``kind`` is
    updated (a record an agent wrote is kept under ``previous``) and shows their outcome.
    """
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
        if not takes(host, name, kind):
            raise UsageError(f"target {name!r} does not take {kind!r} artifacts "
                             f"(it takes: {', '.join(host.target(name)[1].kinds)})")
    meta: dict[str, Any] = {"kind": kind, "ext": ext, "title": "", "summary": "", "tags": [], "draft": False}
    main = {f"{kind}.{ext}": path.read_bytes()}
    queue = open_queue(config)
    with queue:
        if session_path is None:
            rel = path.relative_to(out_dir).parts
            if len(rel) != 3:
                raise UsageError(f"{file}: not at <out>/<session_type>/<session_id>/<file>; pass --session SESSION_FILE")
            version = ArtifactVersion(kind, ext, main, meta, str(path))
            return enqueue_versions(queue, host, session_id=rel[1], session_type=rel[0], versions=[version],
                                    targets=targets, session_path=None)
        session_path = session_path.resolve()
        added: list[dict[str, Any]] = []
        marks: list[tuple[int, int]] = []

        def change(session: Session) -> None:
            files = dict(main)
            record = session.artifacts.get(kind)
            if record is not None and record.path and Path(record.path).resolve() == path.resolve():
                files.update(_recorded_attachments(record.files, path.parent))
            version = ArtifactVersion(kind, ext, files, {**meta, **session_meta(session, session_path)}, str(path))
            added[:] = enqueue_versions(queue, host, session_id=session.session_id,
                                        session_type=session.session_type, versions=[version], targets=targets,
                                        session_path=session_path, session=session)
            found, notes = show_queue_state(session, queue.for_session_file(str(session_path)))
            marks[:] = found
            for note in notes:
                log.warning("%s: %s", session_path, note)

        SessionStore(config.max_input_bytes).update(session_path, change)
        queue.file_synced(str(session_path), marks, file_stamp(session_path))
        return added
