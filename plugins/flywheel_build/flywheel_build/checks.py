"""Checks the schema cannot express: declared totals against the listed commits, odd timestamps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel_build.when import parse_when

if TYPE_CHECKING:
    from flywheel_core import Problem, Session

__all__ = ["check_session"]

_MAX_EACH = 5


def check_session(session: Session) -> list[Problem]:
    """Warnings only: an agent's session is never refused for disagreeing with itself."""
    from flywheel_core import Problem

    problems: list[Problem] = []
    meta: dict[str, Any] = session.metadata
    commits = session.source_data.get("git_commits")
    commits = [c for c in commits if isinstance(c, dict)] if isinstance(commits, list) else []
    declared = meta.get("commits")
    if commits and isinstance(declared, int) and declared != len(commits):
        problems.append(
            Problem.warning(f"metadata.commits is {declared} but {len(commits)} commits are listed", "$.metadata.commits")
        )
    seen: set[str] = set()
    twice: list[Problem] = []
    undated: list[Problem] = []
    for i, commit in enumerate(commits):
        sha = commit.get("hash")
        if isinstance(sha, str) and sha in seen:
            twice.append(Problem.warning(f"commit {sha!r} is listed twice", f"$.source_data.git_commits[{i}].hash"))
        seen.add(sha)
        when = commit.get("timestamp")
        if isinstance(when, str) and when.strip() and parse_when(when) is None:
            undated.append(
                Problem.warning("not an ISO 8601 timestamp; the commit's time is left out", f"$.source_data.git_commits[{i}].timestamp")
            )
    # 5,000 sloppy entries must not print 5,000 lines: the first few, then a count.
    for found, what in ((twice, "commits are listed twice"), (undated, "commits have no ISO 8601 timestamp")):
        problems += found[:_MAX_EACH]
        if len(found) > _MAX_EACH:
            problems.append(Problem.warning(f"{len(found) - _MAX_EACH} more {what}", "$.source_data.git_commits"))
    problems += _long_names(session)
    for key, attr in (("lines_added", "insertions"), ("lines_removed", "deletions")):
        values = [c.get(attr) for c in commits if not c.get("merge")]
        if commits and isinstance(meta.get(key), int) and values and all(isinstance(v, int) for v in values):
            if sum(values) != meta[key]:
                problems.append(
                    Problem.warning(f"metadata.{key} is {meta[key]} but the listed commits add up to {sum(values)}", f"$.metadata.{key}")
                )
    return problems


def _long_names(session: Session) -> list[Problem]:
    """A project name too long to be one: the artifacts do not use it (nor cut it), and say why here."""
    from flywheel_core import Problem

    from flywheel_build.project import MAX_NAME

    collected = session.source_data.get("project")
    named = [("$.project", session.get("project")), ("$.metadata.project", session.metadata.get("project")),
             ("$.source_data.project.name", collected.get("name")) if isinstance(collected, dict)
             else ("$.source_data.project", collected)]
    return [Problem.warning(f"a project name of {len(' '.join(v.split())):,} characters is too long to be one "
                            f"(at most {MAX_NAME}); the artifacts do not use it", path)
            for path, v in named if isinstance(v, str) and len(" ".join(v.split())) > MAX_NAME]
