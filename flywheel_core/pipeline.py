"""The pipeline: collect a new session (``flywheel_collect_session``), and ``flywheel run``:
validate, collect, validate, generate, write, enqueue, record (and publish).

Each phase calls its hook plugin by plugin, so a plugin that raises costs only its own
artifacts: the others are still written and enqueued; the session file then records
``failed`` with an ``errors`` list and the run exits 1.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import attrs

from flywheel_core.context import RunContext
from flywheel_core.errors import FlywheelError, InputError, PluginError, UsageError
from flywheel_core.fsutil import WriteBatch, remove_stale_temps_of, sha256_bytes
from flywheel_core.locks import lock_all
from flywheel_core.progress_bars import progress, track
from flywheel_core.schema import SESSION_ID_PATTERN
from flywheel_core.types import Artifact, Problem

# Modules a phase alone needs are imported in its functions: ``flywheel collect`` loads no
# session model (cattrs), store or validation; a run with no target enabled loads neither the
# enqueue path (the publishing scan) nor the publisher.

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.models import Session
    from flywheel_core.plugins import PluginHost
    from flywheel_core.publishing import ArtifactVersion, PublicationQueue, PublishReport

__all__ = [
    "Collected",
    "RunReport",
    "SessionResult",
    "collect",
    "generate",
    "load_for_run",
    "run_session",
    "run_sessions",
    "validate_file",
]

log = logging.getLogger("flywheel.run")


@attrs.define
class Collected:
    """A new session document from its type's collector, and what the collector said about it."""

    document: dict[str, Any]
    #: Warnings (``ctx.warn``): the user should look; ``flywheel end --strict`` refuses them.
    problems: list[Problem] = attrs.field(factory=list)
    #: Informational lines (``ctx.note``), e.g. rows of an export skipped on purpose.
    notes: list[str] = attrs.field(factory=list)


def collect(
    session_type: str, options: dict[str, Any], config: Config, host: PluginHost, *, session_path: Path | None = None
) -> Collected:
    """Ask the plugin owning ``session_type`` for a new session document (``flywheel_collect_session``).

    ``session_path``: where the document will be written (None: stdout), so the collector
    writes relative paths against that folder. Raises UsageError (unknown type, bad options),
    NothingToCollect, or PluginError when the plugin returns something that is no session of
    that type.
    """
    owner, _ = host.session_type(session_type)  # a UsageError names the distribution to install
    ctx = RunContext(config=config, host=host, session_path=session_path)
    with progress(None, f"collecting a {session_type} session"):  # drawn only on a terminal
        document = host.call_one(owner, "flywheel_collect_session", session_type=session_type,
                                 options=dict(options), ctx=ctx)
    who = f"plugin {host.describe(owner)}"
    if document is None:
        raise UsageError(f"{who} owns session type {session_type!r} but cannot collect one "
                         "(it implements no flywheel_collect_session); write the session file yourself")
    if not isinstance(document, dict):
        raise PluginError(f"{who} returned {type(document).__name__} from flywheel_collect_session, not a session document")
    if document.get("session_type") != session_type or not isinstance(document.get("session_id"), str):
        raise PluginError(f"{who} returned a document without session_type {session_type!r} and a session_id")
    if not re.match(SESSION_ID_PATTERN, document["session_id"]):  # it names the session file
        raise PluginError(f"{who} returned session_id {document['session_id'][:80]!r}, which does not match "
                          f"{SESSION_ID_PATTERN}")
    return Collected(document, list(ctx.problems), list(ctx.notes))


@attrs.define
class SessionResult:
    """What happened to one session file; the CLI prints it, ``--json`` dumps it."""

    file: str
    exit_code: int = 0
    status: str = "complete"  # complete | failed | invalid | dry-run
    session_id: str | None = None
    session_type: str | None = None
    problems: list[Problem] = attrs.field(factory=list)
    artifacts: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    errors: list[str] = attrs.field(factory=list)
    enqueued: list[dict[str, Any]] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["problems"] = [
            {"severity": p.severity, "path": p.path, "message": p.message} for p in self.problems
        ]
        return data


def validate_file(path: Path, config: Config, host: PluginHost) -> tuple[Session | None, SessionResult]:
    """Load and fully validate one file (schema, then plugins). No collect, nothing written."""
    from flywheel_core.store import SessionStore
    from flywheel_core.validation import check_schema, plugin_problems

    result = SessionResult(file=str(path))
    try:
        raw = SessionStore(config.max_input_bytes).read_raw(path)
    except InputError as exc:
        result.problems.append(Problem.error(exc.message, exc.path))
        result.status, result.exit_code = "invalid", 2
        return None, result
    session, problems = check_schema(raw, host)
    result.problems.extend(problems)
    if session is not None:
        result.session_id, result.session_type = session.session_id, session.session_type
        ctx = RunContext(config=config, host=host, session_path=path)
        result.problems.extend(plugin_problems(session, ctx))
    if session is None or _has_errors(result.problems):
        result.status, result.exit_code = "invalid", 2
        return None, result
    return session, result


def _has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def generate(session: Session, ctx: RunContext, result: SessionResult) -> list[Artifact]:
    """Run collect, validate and generate hooks; return artifacts, recording problems and errors."""
    from flywheel_core.validation import plugin_problems

    host = ctx.host
    for plugin, _, error in host.call_each("flywheel_collect", session=session, ctx=ctx):
        if error is not None:
            result.errors.append(f"plugin {host.describe(plugin)} failed in flywheel_collect: {_describe(error)}")
    problems = plugin_problems(session, ctx)
    ctx.problems.extend(problems)
    if _has_errors(ctx.problems):
        return []
    artifacts: dict[str, Artifact] = {}
    for plugin, result_list, error in host.call_each("flywheel_generate", session=session, ctx=ctx):
        if error is not None:
            result.errors.append(f"plugin {host.describe(plugin)} failed in flywheel_generate: {_describe(error)}")
            continue
        for artifact in result_list or []:
            if not isinstance(artifact, Artifact):
                result.errors.append(f"plugin {host.describe(plugin)} returned {type(artifact).__name__}, not an Artifact")
                continue
            if artifact.kind in artifacts:
                result.errors.append(
                    f"artifact {artifact.kind!r} is made by both {host.describe(artifacts[artifact.kind].generator)} "
                    f"and {host.describe(plugin)}; kept the first"
                )
                continue
            artifact.generator = plugin
            artifacts[artifact.kind] = artifact
    return list(artifacts.values())


def _describe(error: BaseException) -> str:
    if isinstance(error, FlywheelError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def write_artifacts(artifacts: list[Artifact], folder: Path) -> dict[str, dict[str, Any]]:
    """Write each artifact and its attachments atomically under ``folder``; return their records.

    Each file is the old one or the new one after a crash, as ever; they are written together
    (every file synced, then renamed, then the folder synced once), not one by one.
    """
    batch = WriteBatch()
    written = _stage_artifacts(artifacts, folder, batch)
    batch.commit()
    return written


def _stage_artifacts(artifacts: list[Artifact], folder: Path, batch: WriteBatch) -> dict[str, dict[str, Any]]:
    """Stage each artifact and its attachments in ``batch`` (written at its commit); their records."""
    contents: dict[Path, bytes | str] = {}
    written: dict[str, dict[str, Any]] = {}
    for artifact in artifacts:
        data = artifact.data()
        main = folder / artifact.filename
        contents[main] = data
        files = []
        for name, content in sorted(artifact.attachments.items()):
            target = folder / name
            contents[target] = content
            files.append(str(target))
        written[artifact.kind] = _record_of(artifact, main, files, data)
    batch.stage(contents)
    return written


def _record_of(artifact: Artifact, main: Path, files: list[str], data: bytes | None = None) -> dict[str, Any]:
    data = artifact.data() if data is None else data
    return {
        "path": str(main),
        "sha256": sha256_bytes(data),
        "generator": artifact.generator,
        "files": files,
        "bytes": len(data),
        "ext": artifact.ext,
        "title": artifact.title,
        "summary": artifact.summary,
        "tags": list(artifact.tags),
        "draft": artifact.draft,
        "meta": artifact.meta,
    }


def plan_artifacts(artifacts: list[Artifact], folder: Path) -> dict[str, dict[str, Any]]:
    """The records ``write_artifacts`` would return, without writing (``--dry-run``)."""
    return {a.kind: _record_of(a, folder / a.filename, [str(folder / n) for n in sorted(a.attachments)]) for a in artifacts}


def run_session(
    path: Path,
    config: Config,
    host: PluginHost,
    *,
    out_dir: Path | None = None,
    dry_run: bool = False,
) -> SessionResult:
    """Run the whole pipeline on one session file and update it in place (unless dry-run)."""
    return next(_run_files([path], config, host, out_dir=out_dir, dry_run=dry_run))


#: ``flywheel run`` on many files writes the artifacts of this many sessions (or this many bytes)
#: together, made durable at once, before it records any of them.
BATCH_SESSIONS = 64
BATCH_BYTES = 32 << 20


@attrs.define
class _Generated:
    """A session generated and staged, waiting for its batch to be written before it is recorded."""

    path: Path
    real: Path  # resolved: the file written (through a symlink)
    session: Session
    result: SessionResult
    artifacts: list[Artifact]
    folder: Path
    collected: tuple[dict, dict] | None


def _run_files(
    files: Iterable[Path], config: Config, host: PluginHost, *, out_dir: Path | None, dry_run: bool
) -> Iterator[SessionResult]:
    """Run each file; the results in order, each once its session file is recorded.

    Sessions are generated and their artifacts staged a batch at a time; the batch is written
    (synced together, renamed, each folder synced once), and only then is each of its sessions
    recorded, one after another, each under its file's lock. A crash before a batch is written
    leaves its sessions' files and records as they were; after it, the files are new and a
    record not written yet is as it was: no record claims a file that is not on disk.
    """
    waiting: list[SessionResult | _Generated] = []
    staged: set[Path] = set()  # the session files waiting, resolved
    out = (out_dir or config.out_dir).resolve()  # once for the batch
    with WriteBatch() as batch:

        def flush() -> Iterator[SessionResult]:
            if batch:
                from flywheel_core.publishing import crash_point

                batch.commit()
                crash_point("after_write")
            items = list(waiting)
            waiting.clear()
            staged.clear()
            done = [item for item in items if isinstance(item, _Generated)]
            for item in done:
                _finish(item)
            if done:
                # What was made is enqueued even when another plugin failed: its failure is
                # recorded, and costs only its own artifacts.
                _record(done, config, host)
            yield from (item.result if isinstance(item, _Generated) else item for item in items)

        for path in files:
            try:
                real = path.resolve()
            except (OSError, RuntimeError):  # a symlink loop (RuntimeError before 3.13): reading it says so, exit 2
                real = path.absolute()
            if real in staged:
                yield from flush()  # a file given twice is run twice, the second on the first's record
            try:
                item = _generate_file(path, real, config, host, out_dir=out, dry_run=dry_run)
                if isinstance(item, _Generated):
                    item.result.artifacts = _stage_artifacts(item.artifacts, item.folder, batch)
                    staged.add(item.real)
            except BaseException:
                yield from flush()  # the sessions before this one are written and recorded, as ever
                raise
            waiting.append(item)
            if len(waiting) >= BATCH_SESSIONS or batch.bytes >= BATCH_BYTES:
                yield from flush()
        yield from flush()


def _generate_file(
    path: Path, real: Path, config: Config, host: PluginHost, *, out_dir: Path, dry_run: bool
) -> SessionResult | _Generated:
    """Load, validate and generate one file (``real``: its resolved path; ``out_dir`` resolved):
    its final result (invalid, or a dry run), or what is left to write and record."""
    session, result = load_for_run(path, config, host)
    if session is None:
        return result
    ctx = RunContext(
        config=config,
        host=host,
        session_path=path,
        artifact_dir=out_dir / session.session_type / session.session_id,
        dry_run=dry_run,
    )
    before = copy.deepcopy((session.source_data, session.metadata))
    try:
        artifacts = generate(session, ctx, result)
    except FlywheelError as exc:
        result.errors.append(str(exc))
        artifacts = []
    result.problems.extend(ctx.problems)
    if _has_errors(ctx.problems):
        result.status, result.exit_code = "invalid", 2
        return result
    assert ctx.artifact_dir is not None
    if dry_run:
        result.artifacts = plan_artifacts(artifacts, ctx.artifact_dir)
        result.status = "dry-run"
        result.exit_code = 1 if result.errors else 0
        return result
    collected = (session.source_data, session.metadata) if (session.source_data, session.metadata) != before else None
    return _Generated(path, real, session, result, artifacts, ctx.artifact_dir, collected)


def _finish(done: _Generated) -> None:
    """The status of a session whose artifacts are written."""
    result, session = done.result, done.session
    failed = bool(result.errors) or not done.artifacts
    if not done.artifacts and not result.errors:
        result.errors.append(f"no plugin generated any artifact for session type {session.session_type!r}")
    result.status = "failed" if failed else "complete"
    result.exit_code = 1 if failed else 0


def load_for_run(path: Path, config: Config, host: PluginHost) -> tuple[Session | None, SessionResult]:
    """Schema-check a file and make sure a plugin handles its type (exit 2 otherwise)."""
    from flywheel_core.store import SessionStore
    from flywheel_core.validation import check_schema

    result = SessionResult(file=str(path))
    try:
        raw = SessionStore(config.max_input_bytes).read_raw(path)
    except InputError as exc:
        result.problems.append(Problem.error(exc.message, exc.path))
        result.status, result.exit_code = "invalid", 2
        return None, result
    session, problems = check_schema(raw, host)
    result.problems.extend(p for p in problems if "only the envelope was checked" not in p.message)
    if session is not None:
        result.session_id, result.session_type = session.session_id, session.session_type
        try:
            host.session_type(session.session_type)
        except UsageError as exc:
            result.problems.append(Problem.error(str(exc), "$.session_type"))
    if session is None or _has_errors(result.problems):
        result.status, result.exit_code = "invalid", 2
        return None, result
    return session, result


def _version(artifact: Artifact, info: dict[str, Any], session: Session, session_path: Path) -> ArtifactVersion:
    """The queue's view of a written artifact: the exact bytes written, and what targets are told."""
    from flywheel_core.localpaths import scrub_paths
    from flywheel_core.publishing import ArtifactVersion, session_meta

    files = {artifact.filename: artifact.data()}
    for name, content in artifact.attachments.items():
        files[name] = content.encode("utf-8") if isinstance(content, str) else content
    meta = {
        **artifact.meta,
        "title": artifact.title,
        "summary": artifact.summary,
        "tags": list(artifact.tags),
        "draft": bool(artifact.draft),
        **session_meta(session, session_path),
        "agent_id": scrub_paths(session.agent_id),  # pages and feeds show it: never a local path
        "generator": artifact.generator,
        "kind": artifact.kind,
        "ext": artifact.ext,
    }
    return ArtifactVersion(artifact.kind, artifact.ext, files, meta, info["path"])


def _record(done: list[_Generated], config: Config, host: PluginHost) -> None:
    """Enqueue each run's artifacts, then write its outcome into its session file, under the file's lock.

    Enqueueing first means a run stopped in between leaves entries the session file does not
    show yet, and the next ``publish`` mends the file from them; never a file that says
    ``complete`` while nothing was enqueued. Every field the run does not own is kept; a record
    an agent wrote is kept under ``previous``. The session files of ``done`` are written
    together (one sync), each locked from before it is re-read until it is written; the locks
    are taken in one order (of their lock files), so two runs on overlapping files never wait
    for each other in a circle.
    """
    from flywheel_core.publishing.backends import storage_may_exist
    from flywheel_core.publishing.mirror import file_stamp
    from flywheel_core.store import SessionStore

    store = SessionStore(config.max_input_bytes)
    # No target to enqueue for and no queue to show: the queue is not opened at all.
    if config.enabled_targets() or storage_may_exist(config):
        from flywheel_core.publishing.queue import open_queue

        opened: contextlib.AbstractContextManager[PublicationQueue | None] = open_queue(config)
    else:
        opened = contextlib.nullcontext()
    with opened as queue, lock_all(d.path for d in done), WriteBatch() as batch:
        remove_stale_temps_of(d.real for d in done)  # each folder listed once, not once per file
        synced: list[tuple[Path, list[tuple[int, int]]]] = []

        def write() -> None:
            batch.commit()
            if queue is not None and queue.exists():
                for session_path, marks in synced:
                    queue.file_synced(str(session_path), marks, file_stamp(session_path))

        for item in done:
            marks: list[tuple[int, int]] = []
            try:
                store.stage_update(item.path, _recorder(item, config, host, queue, marks), batch, clean=False)
            except BaseException:
                write()  # the sessions before this one are recorded, as ever
                raise
            synced.append((item.real, marks))
        write()


def _recorder(
    done: _Generated, config: Config, host: PluginHost, queue: PublicationQueue | None, marks: list[tuple[int, int]]
) -> Callable[[Session], None]:
    """The change :func:`_record` makes to one session file (the queue's marks it shows go to ``marks``;
    ``queue`` is None when there is none and no target to enqueue for)."""
    from flywheel_core.publishing import crash_point
    from flywheel_core.publishing.mirror import show_queue_state, take_over_record, written_by_flywheel

    path, session, result, artifacts, collected = done.path, done.session, done.result, done.artifacts, done.collected
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    session_path = done.real
    targets = config.enabled_targets()
    versions = [_version(a, result.artifacts[a.kind], session, session_path) for a in artifacts] if targets else []
    generators = set(host.infos)

    def change(current: Session) -> None:
        if targets and versions:
            from flywheel_core.publishing import enqueue_versions

            assert queue is not None  # opened whenever a target is enabled

            entries = enqueue_versions(queue, host, session_id=session.session_id, session_type=session.session_type,
                                       versions=versions, targets=targets, session_path=session_path,
                                       session=session)  # scanned as this run collected it
            result.enqueued = [e for e in entries if e["status"] not in ("published", "dead", "rejected")]
        crash_point("after_enqueue")
        if collected is not None:
            current.source_data, current.metadata = collected
        for kind, info in result.artifacts.items():
            old = current.artifacts.get(kind)
            ours = old is None or written_by_flywheel(old, info["path"], generators)
            record, warning = take_over_record(current, kind, ours=ours)
            if warning:
                result.problems.append(Problem.warning(warning, f"$.artifacts.{kind}"))
            if record.sha256 != info["sha256"]:
                record.status = "ready"
                record.generated_at = now
                record.published_to = {}
            record.generated = True
            record.path = info["path"]
            record.sha256 = info["sha256"]
            record.generator = info["generator"]
            record.files = info["files"]
            record.errors = []
        current.pipeline_status[current.status_key] = "failed" if result.status == "failed" else "complete"
        current.errors = list(result.errors)
        if queue is not None and queue.exists():  # the queue is the truth about publication: show it
            found, notes = show_queue_state(current, queue.for_session_file(str(session_path)))
            marks[:] = found
            for note in notes:
                log.warning("%s: %s", path, note)

    return change


@attrs.define
class RunReport:
    """What ``flywheel run`` did: one result per session file, and the publish that followed (``--publish``)."""

    results: list[SessionResult]
    published: PublishReport | None = None
    #: ``--strict``: an entry the publishing scan held makes the run exit 1 (for CI).
    strict: bool = False

    @property
    def held(self) -> list[dict[str, Any]]:
        """Enqueued entries the publishing scan (or ``review = "always"``) holds for review."""
        return [e for r in self.results for e in r.enqueued if e.get("status") == "held"]

    @property
    def exit_code(self) -> int:
        code = max((r.exit_code for r in self.results), default=0)
        if code == 2:
            return code
        if self.strict and self.held:
            code = max(code, 1)
        return code if self.published is None else max(code, self.published.exit_code)


def run_sessions(
    files: list[Path],
    config: Config,
    host: PluginHost,
    *,
    out_dir: Path | None = None,
    dry_run: bool = False,
    publish_after: bool = False,
    show_progress: bool = False,
    strict: bool = False,
) -> RunReport:
    """Run each file, then publish what is due (``publish_after``): ``flywheel run [--publish]``,
    ``flywheel end`` and the Python API all go this one way.

    The enabled targets are checked first. ``show_progress``: a bar counts the files on a
    terminal (stderr), when there are several. ``strict``: held entries make the exit code 1.
    """
    for name in config.enabled_targets():
        from flywheel_core.publishing import check_target

        check_target(config, host, name)  # a bad target is a usage error before anything is written
    shown = track(files, "running sessions") if show_progress and len(files) > 1 else files
    report = RunReport(list(_run_files(shown, config, host, out_dir=out_dir, dry_run=dry_run)), strict=strict)
    if publish_after and not dry_run and any(r.enqueued for r in report.results):
        from flywheel_core.publishing import publish

        report.published = publish(config, host, strict=strict)
    return report
