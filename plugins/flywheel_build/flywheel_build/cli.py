"""``flywheel collect build``: write a build work_session.json from a repository's history."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

__all__ = ["collect_build", "dumps_collected"]


def dumps_collected(session: dict) -> str:
    """The session as indented JSON with one commit per line.

    Readable and diffable, and fast: ``json.dumps(indent=...)`` falls back to the pure-Python
    encoder, which costs more than parsing git's output on a long history.
    """
    commits = session["source_data"]["git_commits"]
    marker = "\u0000flywheel-commits\u0000"
    while True:
        shell = {**session, "source_data": {**session["source_data"], "git_commits": marker}}
        text = json.dumps(shell, indent=2, ensure_ascii=False)
        if text.count(json.dumps(marker)) == 1:
            break
        # The repository's own text holds the marker (a project named so in pyproject.toml):
        # another one, or the commits would land in its place.
        marker += "\u0000"
    # One encoder for all (json.dumps makes one per call); commits are plain data, never circular.
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    lines = ",\n".join(["      " + encode(c) for c in commits])
    return text.replace(json.dumps(marker), f"[\n{lines}\n    ]", 1) + "\n"


def collect_build(
    repo: Annotated[Path, typer.Option("--repo", help="The git repository (a folder inside it works too).")],
    since: Annotated[Optional[str], typer.Option("--since", help="Oldest commit time: ISO 8601 (naive = UTC) or git's '2 hours ago'.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Newest commit time, same forms as --since.")] = None,
    rev_range: Annotated[Optional[str], typer.Option("--rev-range", help="Revision or range: A..B, A...B or A (default HEAD).")] = None,
    author: Annotated[Optional[str], typer.Option("--author", help="Only commits whose author matches this pattern.")] = None,
    agent_id: Annotated[Optional[str], typer.Option("--agent", "--agent-id", help="Who ran the session, its agent_id (default: git's user.name). The commits' authors are credited from the commits.")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Minutes the session took, if you know (default: none; the artifacts estimate working time from commit times and say so).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here (atomically) instead of stdout.", dir_okay=False)] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="The post's title (default: the most significant change).")] = None,
    summary: Annotated[Optional[str], typer.Option("--summary", help="What changed for the project's users and why, in your words: the post opens with it.")] = None,
    highlight: Annotated[Optional[List[str]], typer.Option("--highlight", help="A highlight of the session (repeat for more).")] = None,
    lesson: Annotated[Optional[List[str]], typer.Option("--lesson", help="Something learned (repeat for more).")] = None,
    next_step: Annotated[Optional[List[str]], typer.Option("--next", help="What comes next (repeat for more).")] = None,
    audience: Annotated[Optional[str], typer.Option("--audience", help="Who the post is for, e.g. 'users of the CLI'.")] = None,
) -> None:
    """Collect the commits of a range into a build session (stdout, or -o FILE).

    `git log` reads the range (a long one with one process per core at once, FLYWHEEL_GIT_JOBS
    to change that), with hooks, fsmonitor and external programs disabled. Counts match
    `git log --numstat`: renames count as the new path, binary files as 0 lines, merges show
    no diff. --title, --summary, --highlight, --lesson, --next and
    --audience go to source_data; the artifacts use them before anything read from commits.
    """
    from flywheel_core import collect_session

    options = {
        "repo": str(repo), "since": since, "until": until, "rev_range": rev_range, "author": author,
        "agent_id": agent_id, "duration": duration, "title": title, "summary": summary, "highlights": highlight,
        "lessons": lesson, "next_steps": next_step, "audience": audience,
    }
    collected = collect_session("build", options, session_path=output)
    for problem in collected.problems:
        print(f"flywheel: warning: {problem.message}", file=sys.stderr)
    session = collected.document
    text = dumps_collected(session)
    if output is None:
        sys.stdout.write(text)
        return
    from flywheel_core import UsageError, atomic_write

    try:
        atomic_write(output, text)
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None
    count = session["metadata"]["commits"]
    print(f"{output}: {count:,} commit{'' if count == 1 else 's'} collected, session id {session['session_id']}", file=sys.stderr)
