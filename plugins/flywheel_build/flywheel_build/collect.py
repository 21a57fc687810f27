"""Collecting commits: ``flywheel collect build`` and the ``flywheel_collect`` hook of ``flywheel run``."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

from flywheel_build.git import GitError, Repo, RepositoryRefused, open_repo, run_git
from flywheel_build.remote import clean_remote

# The commit log (gitlog) and the project's metadata are imported where commits are read: a
# `flywheel run` of a session whose repository is not on this machine reads none (issue 18).

if TYPE_CHECKING:
    from flywheel_core import RunContext, Session

__all__ = ["collect_session", "enrich_session", "locate_repo", "session_id_for", "git_time"]

# Compiled on first use (they serve `flywheel collect build` once each).
_re = cache(re.compile)
_SAFE_ID = r"[^A-Za-z0-9._-]+"
_NOW_WORDS = r"(?i)^\s*(now|0+\s+\w+\s+ago)\s*$"
# What git's approxidate misreads without a word: a calendar date it cannot hold (2025-02-30 is
# 2 March to it, 9999-12-31T23:59-05:00 is 2012), a time to come (it reads "2 weeks from now"
# as 2 weeks ago), and 01/02/2025 (2 January to git, 1 February to most of the world).
_ISO_SHAPED = r"^\s*\d{4,}-\d{1,2}(-\d{1,2})?([T ]|\s*$)"
_FUTURE_WORDS = r"(?i)\b(from\s+now|hence|later|tomorrow|next|in\s+\d)"
_SLASH_DATE = r"^\s*(\d{1,2})[/.](\d{1,2})[/.]\d{2,4}\b"
_FILLABLE = ("parents", "author", "email", "timestamp", "message", "body", "trailers", "files", "insertions", "deletions")
_SHOWN_PROBLEMS = 5
#: agent_id when neither --agent nor git's user.name says who ran the session.
UNKNOWN_AGENT = "unknown"


def session_id_for(name: str, end: datetime, hashes: list[str]) -> str:
    """``build-<project>-<yyyymmddHHMMSS>-<newest hash>-<digest>``, safe as a file name (no
    ``<project>-`` when the project has no name: a folder's name is not the project's).

    ``hashes`` are the collected commits, newest first. The digest covers all of them, so two
    ranges ending at the same commit (``v1..HEAD``, ``v2..HEAD``) get different ids while the
    same range collected again gets the same one.
    """
    slug = _re(_SAFE_ID).sub("-", name).strip("-._")[:60]
    digest = hashlib.sha256("\n".join(sorted(hashes)).encode("ascii", "replace")).hexdigest()[:8]
    return "-".join(["build", *([slug] if slug else []), f"{end.astimezone(timezone.utc):%Y%m%d%H%M%S}", hashes[0][:7], digest])


def _report(problems: list[str], say: Any) -> None:
    """The first few problems, then how many more: a broken import of 5,000 commits is not 5,000 lines."""
    for line in problems[:_SHOWN_PROBLEMS]:
        say(line)
    if len(problems) > _SHOWN_PROBLEMS:
        say(f"{len(problems) - _SHOWN_PROBLEMS:,} more commits have odd dates like these")


def git_time(value: str, option: str, repo: Repo) -> int:
    """Seconds since the epoch for an ISO date (naive = UTC) or a git date ("2 hours ago")."""
    from flywheel_core import UsageError, parse_timestamp

    if not value.strip() or value.lstrip().startswith("-"):
        raise UsageError(f"{option} {value!r}: expected a date such as 2025-12-02T05:20:00Z or '2 hours ago'")
    try:
        # git reads an age before 1970 as no limit at all, and then finds nothing: clamp to the epoch.
        return max(0, int(parse_timestamp(value)[0].timestamp()))
    except ValueError as exc:
        if _re(_ISO_SHAPED).match(value):
            raise UsageError(f"{option}: {exc}") from None
    if _re(_FUTURE_WORDS).search(value):
        raise UsageError(f"{option} {value!r}: git reads a time to come as one past; give a past time such as '2 hours ago'")
    slashed = _re(_SLASH_DATE).match(value)
    if slashed and int(slashed[1]) <= 12 and int(slashed[2]) <= 12 and slashed[1] != slashed[2]:
        raise UsageError(f"{option} {value!r}: day and month could be either way round; write it as YYYY-MM-DD")
    # git's approxidate reads relative forms; it silently reads garbage as "now", so compare.
    out = run_git(repo.cwd, "rev-parse", f"--since={value}", "--since=now").decode("ascii", "replace").split()
    stamps = [int(x.split("=", 1)[1]) for x in out if x.startswith("--max-age=")]
    if len(stamps) != 2 or (stamps[0] == stamps[1] and not _re(_NOW_WORDS).match(value)):
        raise UsageError(f"{option} {value!r}: not a date git understands (try 2025-12-02T05:20:00Z or '2 hours ago')")
    return max(0, stamps[0])


def collect_session(
    repo_path: Path,
    *,
    since: str | None = None,
    until: str | None = None,
    rev_range: str | None = None,
    author: str | None = None,
    agent_id: str | None = None,
    duration: float | None = None,
    warn: Any = None,
    narrative: dict[str, Any] | None = None,
    revisions: list[str] | None = None,
) -> dict[str, Any]:
    """A build session document from the repository's history (UsageError on bad input;
    NothingToCollect when no commit matches).

    ``narrative``: the agent's ``title``, ``summary``, ``audience`` (text) and ``highlights``,
    ``lessons``, ``next_steps`` (lists of text), kept in ``source_data`` when given.
    ``revisions``: verified ``git log`` arguments (commit ids, ``^id``) read instead of ``rev_range``."""
    from flywheel_core import NothingToCollect, UsageError

    from flywheel_build.gitlog import iso_utc, log_commits, open_range, totals
    from flywheel_build.project import project_from_remote
    from flywheel_build.project import project_later as read_project_later

    if rev_range is not None and rev_range.lstrip().startswith("-"):
        raise UsageError(f"--rev-range {rev_range!r}: expected a revision or range such as v1.0..HEAD")
    if author is not None and (not author.strip() or author.startswith("-")):
        raise UsageError(f"--author {author!r}: expected a name or e-mail pattern")
    if duration is not None and not (0 <= duration < 1e7):  # also refuses nan and inf
        raise UsageError(f"--duration {duration}: expected minutes, from 0 to 10,000,000")
    try:
        if revisions is None:
            repo, revisions = open_range(repo_path.expanduser(), rev_range)
        else:
            repo = open_repo(repo_path.expanduser())
        max_age = git_time(since, "--since", repo) if since is not None else None
        min_age = git_time(until, "--until", repo) if until is not None else None
        # Both run beside git log. The project is read as committed at the range's tip.
        config_later = repo.config_later("remote.origin.url", "user.name")
        project_later = read_project_later(repo, revisions[0].split("...")[-1])
        problems: list[str] = []
        try:
            commits = log_commits(repo, revisions, max_age=max_age, min_age=min_age, author=author, problems=problems)
        except GitError as exc:
            if author is not None and "regular expression" in str(exc):  # git names only "header"
                raise GitError(f"--author {author!r}: not a valid pattern ({exc})") from None
            raise
        config = config_later()
        remote = clean_remote(config.get("remote.origin.url"))
        project = project_later() or project_from_remote(remote)
    except (GitError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{str(repo_path)[:200]}: cannot be read ({reason[:200]})") from None
    if not commits:
        what = ", ".join(
            f"{k} {v!r}" for k, v in (("--rev-range", rev_range), ("--since", since), ("--until", until), ("--author", author)) if v
        )
        raise NothingToCollect(f"{repo.cwd}: no commits match{' ' + what if what else ''}; nothing to collect")
    say = warn or (lambda message: None)
    boundary = [c["hash"][:12] for c in commits if c.get("shallow_boundary")]
    if boundary:
        say(f"shallow clone: history stops at {', '.join(boundary)}; its line counts are left out")
    _report(problems, say)
    # read_git_date stores ISO 8601 with a zone or none at all: fromisoformat reads them all, a
    # hundred times faster than parse_timestamp on a long history.
    dated = [(datetime.fromisoformat(c["timestamp"]), c) for c in commits if c["timestamp"]]
    # A clock set wrong (or a rebase tool) can date a commit in 2099: the session, its posts and
    # its place on the website would be dated then. A day of slack allows for skewed clocks.
    soon = datetime.now(timezone.utc) + timedelta(days=1)
    ahead = [c for moment, c in dated if moment > soon]
    times = [moment for moment, _ in dated if moment <= soon]
    if ahead:
        shown = ", ".join(f"{c['hash'][:12]} ({c['timestamp'][:10]})" for c in ahead[:3]) + (" ..." if len(ahead) > 3 else "")
        say(f"{len(ahead)} commit(s) dated in the future: {shown}; the session is dated by the others")
    if times:
        end = max(times)
    else:
        end = datetime.now(timezone.utc).replace(microsecond=0)
        why = "no commit has a readable date in the past" if ahead else "no commit has a readable date"
        say(f"{why}; the session's timestamp is the time of collection, {iso_utc(end)}")
    if not agent_id:
        agent_id = config.get("user.name")
    if not agent_id or not agent_id.strip():
        agent_id = UNKNOWN_AGENT
        say(f"agent_id is {UNKNOWN_AGENT!r}: say who ran the session with --agent (git's user.name is not set)")
    counts = totals(commits)
    source: dict[str, Any] = {"repo_path": str(repo.cwd)}
    if remote:
        source["remote_url"] = remote
    if project:
        source["project"] = project.as_json()
    for key, value in (narrative or {}).items():
        if isinstance(value, str) and value.strip():
            source[key] = value.strip()
        elif isinstance(value, (list, tuple)) and any(isinstance(v, str) and v.strip() for v in value):
            source[key] = [v.strip() for v in value if isinstance(v, str) and v.strip()]
    source["git_commits"] = commits
    source["collected"] = {
        k: v for k, v in (("rev_range", rev_range), ("since", since), ("until", until), ("author", author)) if v
    } or {"rev_range": "HEAD"}
    # duration_minutes only when declared: the artifacts estimate working time from the commit
    # times themselves, and say it is an estimate; a calendar span is no measure of work.
    metadata: dict[str, Any] = {"duration_minutes": duration} if duration is not None else {}
    return {
        "session_id": session_id_for(project.name if project else "", end, [c["hash"] for c in commits]),
        "session_type": "build",
        "timestamp": iso_utc(end),
        "agent_id": " ".join(agent_id.split()),
        "metadata": {**metadata, **counts},
        "source_data": source,
        "artifacts": {},
        "pipeline_status": {"build_artifact": "pending"},
    }


# -- the flywheel_collect hook ---------------------------------------------------------------


def _repo_roots(ctx: RunContext) -> list[Path]:
    roots = list(ctx.allowed_roots)
    for entry in ctx.plugin_config("build").get("repo_roots", []) or []:
        roots.append((ctx.config.base_dir / Path(entry).expanduser()).resolve())
    return roots


def locate_repo(session: Session, ctx: RunContext) -> tuple[Repo | None, str | None]:
    """The session's repository if it is on this machine and allowed; else (None, why not).

    ``repo_path`` is untrusted: it must lie in the session's folder, a ``media_roots`` folder or
    a ``[plugins.build] repo_roots`` folder, or be a folder that contains the session file
    (a session kept inside the repository it describes).
    """
    name = session.source_data.get("repo_path") if isinstance(session.source_data, dict) else None
    if not isinstance(name, str) or not name.strip():
        return None, None
    fallback = "using the session's own data"
    if PureWindowsPath(name).drive or name.startswith("\\\\") or "\x00" in name:
        return None, f"repo_path {name!r} is not on this machine; {fallback}"
    try:
        path = Path(name.replace("\\", "/")).expanduser()
        resolved = (path if path.is_absolute() else ctx.session_dir / path).resolve()
        is_dir, exists = resolved.is_dir(), resolved.exists()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long, no such user for "~x"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, f"repo_path {name[:200]!r} cannot be read ({reason[:200]}); {fallback}"
    if not is_dir:
        what = "is a file, not a repository folder" if exists else "does not exist on this machine"
        return None, f"repo_path {name[:200]!r} {what}; {fallback}"
    inside = any(resolved == r or resolved.is_relative_to(r) for r in _repo_roots(ctx))
    if not inside and not ctx.session_dir.is_relative_to(resolved):
        return None, (
            f"repo_path {name!r} is outside the allowed folders (the session's folder, media_roots, "
            f"[plugins.build] repo_roots); {fallback}"
        )
    try:
        return open_repo(resolved), None
    except RepositoryRefused:
        raise  # not a repository to fall back from: enrich_session refuses the session
    except GitError as exc:
        return None, f"repo_path {name!r}: {exc}; {fallback}"


def _warn_once(ctx: RunContext, message: str, path: str) -> None:
    if not any(p.message == message and p.path == path for p in ctx.problems):
        ctx.warn(message, path)


def enrich_session(session: Session, ctx: RunContext) -> None:
    """Fill a build session from its repository: the window's commits when none are listed,
    else only what the listed commits lack (they are the truth). Fails the run (an error at
    ``$.source_data.repo_path``) only for a repository that would hang git: a FIFO or a device
    where git reads a file, or no answer in time."""
    from flywheel_core import Problem

    try:
        _enrich(session, ctx)
    except RepositoryRefused as exc:
        ctx.problems.append(Problem.error(f"repo_path {session.source_data.get('repo_path')!r}: {exc}",
                                          "$.source_data.repo_path"))


def _enrich(session: Session, ctx: RunContext) -> None:
    source = session.source_data
    repo, why = locate_repo(session, ctx)
    if repo is None:
        if why:
            _warn_once(ctx, why, "$.source_data.repo_path")
        return
    try:
        if not source.get("remote_url"):
            remote = clean_remote(repo.remote_url())
            if remote:
                source["remote_url"] = remote
        listed = source.get("git_commits")
        if isinstance(listed, list) and listed:
            _fill_listed(repo, listed, ctx)
        else:
            _collect_window(repo, session, ctx)
    except RepositoryRefused:
        raise
    except GitError as exc:
        _warn_once(ctx, f"reading {repo.cwd} failed: {exc}; using the session's own data", "$.source_data.repo_path")


def _fill_listed(repo: Repo, listed: list[Any], ctx: RunContext) -> None:
    from flywheel_build.gitlog import lookup_commits

    entries = [c for c in listed if isinstance(c, dict) and isinstance(c.get("hash"), str)]
    problems: list[str] = []
    found, missing = lookup_commits(repo, [c["hash"].strip() for c in entries], problems)
    _report(problems, lambda line: _warn_once(ctx, line, "$.source_data.git_commits"))
    for entry in entries:
        commit = found.get(entry["hash"].strip())
        if commit is None:
            continue
        for key in _FILLABLE:
            if entry.get(key) in (None, "") and key in commit:
                entry[key] = commit[key]
        if commit.get("merge") and "merge" not in entry:
            entry["merge"] = True
    if missing:
        shown = ", ".join(repr(h[:12]) for h in missing[:5]) + (" ..." if len(missing) > 5 else "")
        _warn_once(ctx, f"{len(missing)} listed commit(s) not found in {repo.cwd}: {shown}; kept as listed", "$.source_data.git_commits")


def _collect_window(repo: Repo, session: Session, ctx: RunContext) -> None:
    """Collect the commits of the session's window: it ENDS at ``timestamp`` (written when the
    session is over, as in the seed guide) and began ``duration_minutes`` earlier."""
    from flywheel_build.gitlog import iso_utc, log_commits, resolve_revisions, totals

    meta = session.metadata
    minutes = meta.get("duration_minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        _warn_once(
            ctx,
            "no commits listed and no metadata.duration_minutes, so the session's commits are unknown; "
            "record them with `flywheel collect build`",
            "$.source_data.git_commits",
        )
        return
    end = session.when
    # git reads a --max-age before 1970 as no limit at all and finds nothing: start at the epoch at most.
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    start = end - timedelta(minutes=max(0.0, min(float(minutes), (end - epoch).total_seconds() / 60)))
    try:
        revisions = resolve_revisions(repo, None)
    except ValueError as exc:
        _warn_once(ctx, f"{exc}; using the session's own data", "$.source_data.repo_path")
        return
    problems: list[str] = []
    commits = log_commits(repo, revisions, max_age=int(start.timestamp()), min_age=int(end.timestamp()), problems=problems)
    _report(problems, lambda line: _warn_once(ctx, line, "$.source_data.git_commits"))
    if not commits:
        _warn_once(ctx, f"no commits in {repo.cwd} between {iso_utc(start)} and {iso_utc(end)}", "$.source_data.git_commits")
        return
    if any(c.get("shallow_boundary") for c in commits):
        _warn_once(ctx, "shallow clone: the oldest commit's line counts are left out", "$.source_data.git_commits")
    session.source_data["git_commits"] = commits
    for key, value in totals(commits).items():
        meta.setdefault(key, value)
