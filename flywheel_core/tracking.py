"""Work sessions from start to end: ``flywheel start`` records one; ``flywheel end`` collects, writes, runs and publishes it, once.

Per (session type, repository or folder) one state file under ``<state_dir>/sessions/`` holds
the open session (when it began, who runs it, where every branch pointed), the end under way,
and the last end. ``end`` runs under that file's lock in this order: record the end under way,
write the session file, run it (enqueue), publish, record the end. A process killed anywhere
leaves the end under way recorded, and the next ``end`` finishes it from the written file
(``run`` and ``publish`` are idempotent), so nothing is collected, written or published twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flywheel_core.config import load_config, repository_root
from flywheel_core.errors import InputError, NothingToCollect, UsageError
from flywheel_core.fsutil import atomic_write
from flywheel_core.jsonload import dumps_strict
from flywheel_core.locks import lock_for
from flywheel_core.models import parse_timestamp
from flywheel_core.pipeline import collect, run_sessions
from flywheel_core.publishing import check_target, crash_point, open_queue
from flywheel_core.store import emit_session
from flywheel_core.types import Problem

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.pipeline import RunReport, SessionResult
    from flywheel_core.plugins import PluginHost

__all__ = [
    "END_CRASH_POINTS",
    "ArtifactFile",
    "EndResult",
    "OpenSession",
    "Pending",
    "Receipt",
    "SessionOutcome",
    "StartResult",
    "config_for",
    "end_session",
    "outcome_of",
    "repository_refs",
    "run_file",
    "start_session",
]

#: Steps of ``end`` a crash test can stop flywheel at (FLYWHEEL_TEST_CRASH_AT), besides those
#: of ``run`` and ``publish`` it goes through.
END_CRASH_POINTS = (
    "after_end_recorded",  # the end under way recorded, the session file not written yet
    "after_session_file",  # the session file written, not run yet
    "before_end_done",  # run and published, the end not recorded as done yet
)

# -- results ------------------------------------------------------------------------------


@attrs.frozen
class ArtifactFile:
    """One artifact a run wrote: its kind, its main file, its content hash and its other files."""

    kind: str
    path: Path
    sha256: str
    files: tuple[Path, ...] = ()


@attrs.frozen
class Receipt:
    """A target's confirmation that an artifact is published: where (``url``) or as what (``commit``)."""

    target: str
    kind: str
    url: str | None
    commit: str | None
    #: The target's whole receipt (paths, post ids, ...).
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Pending:
    """An artifact not published to a target (yet): queued, failed (retried later), held or dead."""

    target: str
    kind: str
    status: str
    error: str | None
    entry_id: int


@attrs.define
class SessionOutcome:
    """What one session file became: its artifacts, the targets' receipts, and what waits.

    ``status``: complete | failed (a plugin failed: ``errors`` says which) | invalid (bad input:
    ``problems``) | nothing-new (``flywheel end`` found nothing since the last end).
    ``exit_code`` is the one ``flywheel run`` would give: 0, 1 run-time failure, 2 bad input.
    """

    session_file: Path | None
    session_id: str | None = None
    session_type: str | None = None
    status: str = "complete"
    artifacts: dict[str, ArtifactFile] = attrs.field(factory=dict)
    receipts: list[Receipt] = attrs.field(factory=list)
    pending: list[Pending] = attrs.field(factory=list)
    problems: list[Problem] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)
    exit_code: int = 0
    #: Whether publishing was asked for (``--no-publish``: False; everything then waits in the queue).
    publish_requested: bool = True

    @property
    def ok(self) -> bool:
        """Whether ``exit_code`` is 0 (what is not published yet is in ``pending``: no failure)."""
        return self.exit_code == 0

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON-ready data (paths as strings; ``publish_requested`` left out)."""
        return {
            "session_file": str(self.session_file) if self.session_file else None,
            "session_id": self.session_id,
            "session_type": self.session_type,
            "status": self.status,
            "exit_code": self.exit_code,
            "artifacts": {k: {"path": str(a.path), "sha256": a.sha256, "files": [str(f) for f in a.files]}
                          for k, a in self.artifacts.items()},
            "receipts": [attrs.asdict(r) for r in self.receipts],
            "pending": [attrs.asdict(p) for p in self.pending],
            "problems": [{"severity": p.severity, "path": p.path, "message": p.message} for p in self.problems],
            "errors": list(self.errors),
        }


@attrs.define
class EndResult(SessionOutcome):
    """What ``flywheel end`` did: the session it collected and published, or why there was nothing new.

    ``resumed`` is an earlier end that was interrupted (its process killed) and that this one
    finished first. ``notes`` are the collector's informational lines.
    """

    folder: Path | None = None
    message: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    duration_minutes: float | None = None
    notes: list[str] = attrs.field(factory=list)
    resumed: SessionOutcome | None = None

    @property
    def nothing_new(self) -> bool:
        """True when there was nothing new since the last end: nothing was written or published."""
        return self.status == "nothing-new"

    def to_json(self) -> dict[str, Any]:
        """:meth:`SessionOutcome.to_json` and the end's fields: what ``flywheel end --json`` prints."""
        return {
            **super().to_json(),
            "folder": str(self.folder) if self.folder else None,
            "message": self.message,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_minutes": self.duration_minutes,
            "notes": list(self.notes),
            "resumed": self.resumed.to_json() if self.resumed else None,
        }


@attrs.frozen
class OpenSession:
    """A session ``flywheel start`` opened: its type, folder, start time, agent and repository state."""

    session_type: str
    folder: Path
    started_at: str
    agent: str | None
    #: ``{"head": sha, "branches": {"refs/heads/main": sha}}`` when the folder is in a git repository.
    refs: dict[str, Any] | None


@attrs.frozen
class StartResult:
    """What ``flywheel start`` did: ``session`` is the open session (the earlier one when ``already_open``)."""

    session: OpenSession
    already_open: bool = False
    #: The open session ``--restart`` replaced.
    replaced: OpenSession | None = None


# -- where: the repository or folder, its branches, the state file ------------------------


#: Seconds a git command reading a repository's branches (instant on any repository) may take.
GIT_TIMEOUT = 60.0
_KEEP_GIT_ENV = frozenset({"GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"})


def _git(folder: Path, *args: str, must: bool = False) -> str | None:
    """stdout of a read-only git command in ``folder``, or None when it fails (not a repository);
    with ``must``, a failure is a UsageError giving git's reason."""
    # GIT_DIR and the like would point git elsewhere; the variables naming the user's own config
    # files are the user's choice, as HOME is.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEEP_GIT_ENV}
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")
    try:
        # The deadline: a repository's config can include a FIFO, and git would wait on it for ever.
        done = subprocess.run(["git", "-c", "core.fsmonitor=false", *args], cwd=folder, capture_output=True,
                              env=env, check=False, stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT)
    except OSError:  # no git at all: not a repository as far as flywheel can tell
        return None
    except subprocess.TimeoutExpired:
        raise UsageError(f"{folder}: git did not answer within {GIT_TIMEOUT:g} s: does the repository's config "
                         "(an [include] path) name a FIFO or a device?") from None
    if done.returncode == 0:
        return done.stdout.decode("utf-8", "surrogateescape")
    if must:
        said = [ln.strip() for ln in done.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        reason = next((ln.split(":", 1)[1].strip() for ln in reversed(said) if ln.startswith("fatal:")), said[-1] if said else "")
        fix = next((ln for ln in said if ln.startswith("git config") and "safe.directory" in ln), None)
        raise UsageError(f"{folder}: git cannot read this repository: {reason}" + (f" (to trust it: {fix})" if fix else ""))
    return None


def repository_refs(root: Path) -> dict[str, Any] | None:
    """``{"head": sha or None, "branches": {ref: sha}}`` of the git repository at ``root``; None
    when it is none. UsageError when it holds ``.git`` that git refuses (another user's
    repository: "dubious ownership"), rather than taking it for a plain folder."""
    listing = _git(root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/", must=(root / ".git").exists())
    if listing is None:
        return None
    head = (_git(root, "rev-parse", "-q", "--verify", "HEAD^{commit}") or "").strip() or None
    branches = dict(reversed(line.split(" ", 1)) for line in listing.splitlines() if " " in line)
    return {"head": head, "branches": branches}


def _place(folder: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(folder asked, key folder)``: the key is the repository root when in one, so every
    subfolder of a repository shares its open session."""
    asked = Path(folder).expanduser()
    try:
        resolved = asked.resolve()
        is_dir = resolved.is_dir()
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"{asked}: cannot be read ({exc})") from None
    if not is_dir:
        raise UsageError(f"{asked}: no such folder (--repo names the repository or folder the session is about)")
    return resolved, (repository_root(resolved) or resolved).resolve()


def config_for(folder: str | os.PathLike[str], explicit: str | os.PathLike[str] | None = None) -> Config:
    """The configuration of the repository (or folder) a session is about: found from ``folder``,
    not from where flywheel runs (a hook or cron starts it anywhere). ``explicit`` (``--config``)
    and ``FLYWHEEL_CONFIG`` win as everywhere, relative to the current folder."""
    if explicit is not None:
        return load_config(Path(explicit).absolute())
    if os.environ.get("FLYWHEEL_CONFIG"):
        return load_config()
    _, key = _place(folder)
    return load_config(cwd=key)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class _StateFile:
    """The JSON record of one (type, folder): ``open``, ``ending`` and ``last_end``, rewritten atomically."""

    def __init__(self, config: Config, session_type: str, key: Path) -> None:
        digest = hashlib.sha256(str(key).encode("utf-8", "surrogateescape")).hexdigest()[:16]
        self.path = config.state_dir / "sessions" / f"{session_type}-{digest}.json"
        self.session_type, self.key = session_type, key

    def lock(self):  # noqa: ANN201 - a PathLock
        return lock_for(self.path)

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"session_type": self.session_type, "folder": str(self.key)}
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(str(self.path), "$", f"not flywheel's session state ({exc}); remove it to forget "
                             "the open session") from None
        if not isinstance(data, dict):
            raise InputError(str(self.path), "$", "not flywheel's session state; remove it to forget the open session")
        return data

    def write(self, data: dict[str, Any]) -> None:
        atomic_write(self.path, dumps_strict(data, indent=2) + "\n")


def _open_session(data: dict[str, Any], session_type: str, key: Path) -> OpenSession | None:
    record = data.get("open")
    if not isinstance(record, dict) or not isinstance(record.get("started_at"), str):
        return None
    return OpenSession(session_type, key, record["started_at"], record.get("agent"), record.get("refs"))


# -- start --------------------------------------------------------------------------------


def start_session(
    config: Config,
    host: PluginHost,
    *,
    session_type: str = "build",
    folder: str | os.PathLike[str] = ".",
    agent: str | None = None,
    restart: bool = False,
    now: datetime | None = None,
) -> StartResult:
    """Open a session of ``session_type`` on ``folder``: record the time, the agent and where
    every branch points. One is open per (type, repository or folder): while one is, the first
    is kept (``already_open``) unless ``restart``."""
    host.session_type(session_type)  # a UsageError names what to install
    if agent is not None and not agent.strip():
        raise UsageError("--agent must not be empty")
    _, key = _place(folder)
    state = _StateFile(config, session_type, key)
    with state.lock():
        data = state.read()
        current = _open_session(data, session_type, key)
        if current is not None and not restart:
            return StartResult(current, already_open=True)
        refs = repository_refs(key)
        record = {"started_at": _iso(_now(now)), "agent": " ".join(agent.split()) if agent else None, "refs": refs}
        data["open"] = record
        state.write(data)
    return StartResult(OpenSession(session_type, key, record["started_at"], record["agent"], refs), replaced=current)


# -- end ----------------------------------------------------------------------------------


def end_session(
    config: Config,
    host: PluginHost,
    *,
    session_type: str = "build",
    folder: str | os.PathLike[str] = ".",
    options: dict[str, Any] | None = None,
    since: str | None = None,
    duration: float | None = None,
    publish: bool = True,
    strict: bool = False,
    now: datetime | None = None,
) -> EndResult:
    """End the open session of ``session_type`` on ``folder`` (or collect since the last end,
    else since ``since``): collect it, write it to ``sessions_dir``, run it, publish.

    ``options`` are the collector's (``agent_id``, ``title``, ``summary``, ``lessons``,
    ``csv``, ``notes``...; see ``flywheel_collect_session``); a ``rev_range`` option is an
    exact window and wins over the rest. ``duration`` (minutes)
    wins over the time measured from the start. ``strict``: an entry the publishing scan holds
    makes the exit code 1, and a collector warning stops the end
    before anything is written (UsageError). Nothing new since the last end: nothing is
    written, ``status`` is ``nothing-new``.
    """
    host.session_type(session_type)
    if duration is not None and not (0 <= duration < 1e7):  # also refuses nan and inf
        raise UsageError(f"--duration {duration}: expected minutes, from 0 to 10,000,000")
    for name in config.enabled_targets():
        check_target(config, host, name)  # a bad target is a usage error before anything is recorded
    asked, key = _place(folder)
    state = _StateFile(config, session_type, key)
    with state.lock():
        data = state.read()
        resumed = _finish_interrupted(config, host, state, data, publish)
        result = _end(config, host, state, data, asked, key, dict(options or {}), since, duration, publish, strict, now)
    result.resumed = resumed
    if resumed is not None:
        result.exit_code = max(result.exit_code, resumed.exit_code)
    return result


def _finish_interrupted(
    config: Config, host: PluginHost, state: _StateFile, data: dict[str, Any], publish: bool
) -> SessionOutcome | None:
    """Finish an end whose process was killed after it recorded what it was doing."""
    ending = data.get("ending")
    if not isinstance(ending, dict):
        return None
    file = Path(str(ending.get("session_file", "")))
    if not ending.get("session_file") or not file.is_file():
        # Killed before the session file was written: nothing of it exists; collect afresh.
        data.pop("ending", None)
        state.write(data)
        return None
    outcome = run_file(config, host, file, publish=publish)
    _record_end(state, data, ending)
    return outcome


def _record_end(state: _StateFile, data: dict[str, Any], ending: dict[str, Any]) -> None:
    data["last_end"] = {k: ending.get(k) for k in ("session_id", "session_file", "ended_at", "refs")}
    data.pop("ending", None)
    opened = data.get("open")
    # Only the start this end began from: one made after a crash opens the next session.
    if ending.get("closes_start") and isinstance(opened, dict) and opened.get("started_at") == ending["closes_start"]:
        data.pop("open", None)
    state.write(data)


def _end(
    config: Config,
    host: PluginHost,
    state: _StateFile,
    data: dict[str, Any],
    asked: Path,
    key: Path,
    options: dict[str, Any],
    since: str | None,
    duration: float | None,
    publish: bool,
    strict: bool,
    now: datetime | None,
) -> EndResult:
    ended = _now(now)
    opened = _open_session(data, state.session_type, key)
    last = data.get("last_end") if isinstance(data.get("last_end"), dict) else None
    refs = repository_refs(key)  # before collecting: a commit made meanwhile belongs to the next end
    options["repo"] = str(asked)
    if refs is not None:
        options["refs_now"] = refs
    if opened is not None:
        options["started_at"] = opened.started_at
        if not options.get("agent_id") and opened.agent:
            options["agent_id"] = opened.agent
    if last is not None and isinstance(last.get("session_file"), str):
        options["last_session_file"] = last["session_file"]  # e.g. what of a growing export was published
    window = _window(options, opened, last, since)
    result = EndResult(None, session_type=state.session_type, folder=key, ended_at=_iso(ended),
                       started_at=opened.started_at if opened else None, publish_requested=publish)
    try:
        collected = collect(state.session_type, options, config, host, session_path=config.sessions_dir / "work_session.json")
    except NothingToCollect as exc:
        result.status, result.message = "nothing-new", f"nothing new {window}: {exc}"
        return result
    doc = collected.document
    result.problems, result.notes = list(collected.problems), list(collected.notes)
    result.session_id = doc["session_id"]
    if last is not None and last.get("session_id") == doc["session_id"]:
        result.status = "nothing-new"
        result.message = f"nothing new {window}: it is the session ended last, {doc['session_id']} ({last.get('session_file')})"
        return result
    if strict and collected.problems:
        first = collected.problems[0]
        raise UsageError(f"--strict: the collector warned ({len(collected.problems)} warning(s)), nothing was written; "
                         f"first: {first.message}")
    result.duration_minutes = _stamp(doc, duration, opened, ended)
    file = config.sessions_dir / f"{doc['session_id']}_{state.session_type}.json"
    ending = {"session_id": doc["session_id"], "session_file": str(file), "ended_at": _iso(ended),
              "refs": refs, "closes_start": opened.started_at if opened else None}
    data["ending"] = ending
    state.write(data)
    crash_point("after_end_recorded")
    if not file.exists():  # the same session written before is kept: it may hold its run's records
        emit_session(doc, file)
    crash_point("after_session_file")
    outcome = run_file(config, host, file, publish=publish)
    crash_point("before_end_done")
    _record_end(state, data, ending)
    for name in ("session_file", "session_id", "status", "artifacts", "receipts", "pending", "errors", "exit_code"):
        setattr(result, name, getattr(outcome, name))
    if strict and any(p.status == "held" for p in outcome.pending):
        result.exit_code = max(result.exit_code, 1)  # --strict: held for review fails a CI job
    result.problems += outcome.problems
    return result


def _window(options: dict[str, Any], opened: OpenSession | None, last: dict[str, Any] | None, since: str | None) -> str:
    """Tell the collector where the session began (``options``); return it in words.

    An exact range when given; else since the start, else since the last end, and only then
    ``since``: a hook or a cron line passing --since every time never collects a thing twice.
    """
    if options.get("rev_range"):
        return f"in {options['rev_range']}"
    if opened is not None:
        options["since"], options["refs_before"] = opened.started_at, opened.refs
        return f"since the session started at {opened.started_at}"
    if last is not None:
        options["since"], options["refs_before"] = last.get("ended_at"), last.get("refs")
        return f"since the last end at {last.get('ended_at')} ({last.get('session_id')})"
    if since is not None:
        options["since"] = since
        return f"since {since}"
    return "in all it holds"


def _stamp(doc: dict[str, Any], duration: float | None, opened: OpenSession | None, ended: datetime) -> Any:
    """Put the session's duration in its metadata: the declared one, else measured from the start
    (whole minutes), else the collector's; with a start, when it began and ended too."""
    metadata = doc.setdefault("metadata", {})
    if duration is not None:
        metadata["duration_minutes"] = int(duration) if float(duration).is_integer() else duration
    elif opened is not None:
        began = parse_timestamp(opened.started_at)[0]
        metadata["duration_minutes"] = max(0, round((ended - began).total_seconds() / 60))
    if opened is not None:
        metadata["started_at"], metadata["ended_at"] = opened.started_at, _iso(ended)
    return metadata.get("duration_minutes")


# -- running a session file and reading what became of it ---------------------------------


def run_file(config: Config, host: PluginHost, path: Path, *, publish: bool = True) -> SessionOutcome:
    """Run one session file (write its artifacts, enqueue them) and publish what is due: the
    guide's "run the pipeline" and "queue for publication" in one call."""
    report = run_sessions([path], config, host, publish_after=publish)
    return outcome_of(config, report, publish=publish)


def outcome_of(config: Config, report: RunReport, *, publish: bool = True) -> SessionOutcome:
    """A run report of one file as a :class:`SessionOutcome`, with its entries' state from the queue."""
    result: SessionResult = report.results[0]
    path = Path(result.file)
    outcome = SessionOutcome(
        path, result.session_id, result.session_type, result.status, problems=list(result.problems),
        errors=list(result.errors), exit_code=report.exit_code, publish_requested=publish,
    )
    for kind, info in result.artifacts.items():
        outcome.artifacts[kind] = ArtifactFile(kind, Path(info["path"]), info["sha256"], tuple(Path(f) for f in info["files"]))
    if result.exit_code == 2:
        return outcome
    queue = open_queue(config)
    if not queue.exists():
        return outcome
    with queue:
        entries = queue.for_session_file(str(path.resolve()))
        unmet = queue.unmet(e for e in entries if e.status in ("queued", "failed"))
    for entry in entries:
        if entry.status == "superseded":  # a newer version of it took its place
            continue
        if entry.status == "published":
            receipt = entry.receipt or {}
            outcome.receipts.append(Receipt(entry.target, entry.kind, _text(receipt.get("url")),
                                            _text(receipt.get("commit")), dict(receipt)))
        else:
            error = entry.last_error
            if entry.status == "held":
                error = _held_reason(entry.findings or {}, entry.id)
            elif ahead := unmet.get(entry.id):  # a social post waits for the page it links to
                error = "waits for " + ", ".join(f"entry {a.id} ({a.kind} -> {a.target}, {a.status})" for a in ahead)
            outcome.pending.append(Pending(entry.target, entry.kind, entry.status, error, entry.id))
    return outcome


def _held_reason(scan: dict[str, Any], entry_id: int) -> str:
    """Why the publishing scan holds an entry, in one line of masked findings (never a secret)."""
    findings = scan.get("findings") or []
    shown = sorted({f"{f.get('rule')} {f.get('preview', '')}".strip() for f in findings})
    what = "; ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    why = what or ("every entry waits for approval (review = \"always\")" if scan.get("held") == "review" else "held")
    return f"{why} (see `flywheel review show {entry_id}`)"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

