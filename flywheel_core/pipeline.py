"""``flywheel run`` for one session file: validate, collect, validate, generate, write, record.

Each phase calls its hook plugin by plugin, so a plugin that raises costs only its own
artifacts; the session file then records ``failed`` with an ``errors`` list and the run exits 1.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flywheel_core.context import RunContext
from flywheel_core.errors import FlywheelError, InputError, UsageError
from flywheel_core.fsutil import atomic_write, sha256_bytes
from flywheel_core.models import ArtifactRecord, Session
from flywheel_core.store import SessionStore
from flywheel_core.types import Artifact, Problem
from flywheel_core.validation import check_schema, plugin_problems

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.plugins import PluginHost

__all__ = ["SessionResult", "generate", "load_for_run", "run_session", "validate_file"]


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
    """Write each artifact and its attachments atomically under ``folder``; return their records."""
    written: dict[str, dict[str, Any]] = {}
    for artifact in artifacts:
        data = artifact.data()
        main = folder / artifact.filename
        atomic_write(main, data)
        files = []
        for name, content in sorted(artifact.attachments.items()):
            target = folder / name
            atomic_write(target, content.encode("utf-8") if isinstance(content, str) else content)
            files.append(str(target))
        written[artifact.kind] = _record_of(artifact, main, files)
    return written


def _record_of(artifact: Artifact, main: Path, files: list[str]) -> dict[str, Any]:
    data = artifact.data()
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
    session, result = load_for_run(path, config, host)
    if session is None:
        return result
    out_dir = (out_dir or config.out_dir).resolve()
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
    result.artifacts = write_artifacts(artifacts, ctx.artifact_dir)
    failed = bool(result.errors) or not artifacts
    if not artifacts and not result.errors:
        result.errors.append(f"no plugin generated any artifact for session type {session.session_type!r}")
    result.status = "failed" if failed else "complete"
    result.exit_code = 1 if failed else 0
    collected = (session.source_data, session.metadata) if (session.source_data, session.metadata) != before else None
    _record(path, config, result, collected)
    if not failed:
        from flywheel_core.queue import enqueue_result

        result.enqueued = enqueue_result(result, session, config, host)
    return result


def load_for_run(path: Path, config: Config, host: PluginHost) -> tuple[Session | None, SessionResult]:
    """Schema-check a file and make sure a plugin handles its type (exit 2 otherwise)."""
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


def _record(
    path: Path, config: Config, result: SessionResult, collected: tuple[dict, dict] | None
) -> None:
    """Write the run's outcome into the session file, keeping every field it does not own."""
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def change(session: Session) -> None:
        if collected is not None:
            session.source_data, session.metadata = collected
        for kind, info in result.artifacts.items():
            old = session.artifacts.get(kind) or ArtifactRecord()
            unchanged = old.sha256 == info["sha256"] and old.status in ("published", "queued")
            old.generated = True
            old.path = info["path"]
            old.sha256 = info["sha256"]
            old.generator = info["generator"]
            old.files = info["files"]
            if not unchanged:
                old.status = "ready"
                old.generated_at = now
                old.published_to = {}
            old.errors = []
            session.artifacts[kind] = old
        session.pipeline_status[session.status_key] = "failed" if result.status == "failed" else "complete"
        session.errors = list(result.errors)

    SessionStore(config.max_input_bytes).update(path, change)
