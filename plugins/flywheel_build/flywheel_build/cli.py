"""``flywheel collect build``: write a build work_session.json from a repository's history."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["collect_build"]


def collect_build(
    repo: Annotated[Path, typer.Option("--repo", help="The git repository (a folder inside it works too).")],
    since: Annotated[Optional[str], typer.Option("--since", help="Oldest commit time: ISO 8601 (naive = UTC) or git's '2 hours ago'.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Newest commit time, same forms as --since.")] = None,
    rev_range: Annotated[Optional[str], typer.Option("--rev-range", help="Revision or range: A..B, A...B or A (default HEAD).")] = None,
    author: Annotated[Optional[str], typer.Option("--author", help="Only commits whose author matches this pattern.")] = None,
    agent_id: Annotated[Optional[str], typer.Option("--agent-id", help="agent_id of the session (default: the newest commit's author).")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Session length in minutes (default: first to last commit).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here (atomically) instead of stdout.", dir_okay=False)] = None,
) -> None:
    """Collect the commits of a range into a build session (stdout, or -o FILE).

    One `git log` process reads the whole range, with hooks, fsmonitor and external programs
    disabled. Counts match `git log --numstat`: renames count as the new path, binary files
    as 0 lines, merges show no diff.
    """
    from flywheel_build.collect import collect_session

    def warn(message: str) -> None:
        print(f"flywheel: warning: {message}", file=sys.stderr)

    if duration is not None and duration == int(duration):
        duration = int(duration)
    session = collect_session(
        repo, since=since, until=until, rev_range=rev_range, author=author,
        agent_id=agent_id, duration=duration, warn=warn,
    )
    text = json.dumps(session, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    from flywheel_core import UsageError, atomic_write

    try:
        atomic_write(output, text)
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None
    print(f"{output}: {session['metadata']['commits']} commits collected ({session['session_id']})", file=sys.stderr)
