"""``flywheel start`` and ``flywheel end``: a work session from start to published, in one command each."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from flywheel_core.cli.options import ConfigOpt, JsonOpt

if TYPE_CHECKING:
    from flywheel_core.tracking import EndResult, SessionOutcome

TypeOpt = Annotated[str, typer.Option("--type", "-t", help="The session type: build, trade or life_aria.")]
RepoOpt = Annotated[
    Path,
    typer.Option("--repo", help="The repository (any folder inside it) or, outside git, the folder the session is "
                 "about; its flywheel.toml applies (default: the current folder).", file_okay=False),
]
AgentOpt = Annotated[Optional[str], typer.Option("--agent", "--agent-id", help="Who runs the session (its agent_id).")]
Texts = Optional[list[str]]


def _setup(config: Path | None, repo: Path):
    from flywheel_core.config import check_plugin_configs
    from flywheel_core.plugins import get_host
    from flywheel_core.tracking import config_for

    cfg, host = config_for(repo, config), get_host()
    check_plugin_configs(cfg, host)
    return cfg, host


def _rel(path: Any) -> str:
    text = str(path)
    try:
        rel = os.path.relpath(text)
    except ValueError:
        return text
    return text if rel.startswith("../..") else rel


def start(
    session_type: TypeOpt = "build",
    repo: RepoOpt = Path("."),
    agent: AgentOpt = None,
    restart: Annotated[bool, typer.Option("--restart", help="Replace a session of this type already open here.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Record that a work session begins: the time, the agent, and where every branch points.

    One session is open per type and repository (or folder): starting again while one is open
    keeps the first and says so (exit 0), unless --restart. `flywheel end` then collects what
    happened since.
    """
    from flywheel_core.tracking import start_session

    cfg, host = _setup(config, repo)
    done = start_session(cfg, host, session_type=session_type, folder=repo, agent=agent, restart=restart)
    opened = done.session
    if json_out:
        print(json.dumps({"session_type": opened.session_type, "folder": str(opened.folder),
                          "started_at": opened.started_at, "agent": opened.agent, "refs": opened.refs,
                          "already_open": done.already_open}, indent=2))
        return
    where = f"{opened.session_type} session in {opened.folder}"
    who = f" by {opened.agent}" if opened.agent else ""
    if done.already_open:
        print(f"a {where} is already open since {opened.started_at}{who}; kept it "
              "(`flywheel start --restart` starts over)")
        return
    head = (opened.refs or {}).get("head")
    at = f" at {head[:12]}" if head else (" (not a git repository)" if opened.refs is None else " (no commit yet)")
    print(f"{'restarted' if done.replaced else 'started'} a {where}{at}{who}, {opened.started_at}")


def end(
    session_type: TypeOpt = "build",
    repo: RepoOpt = Path("."),
    agent: AgentOpt = None,
    title: Annotated[Optional[str], typer.Option("--title", help="The session's title (a post's headline).")] = None,
    summary: Annotated[Optional[str], typer.Option("--summary", help="What changed and why, in your words.")] = None,
    lesson: Annotated[Texts, typer.Option("--lesson", help="Something learned (repeat for more).")] = None,
    next_step: Annotated[Texts, typer.Option("--next", help="What comes next (repeat for more).")] = None,
    highlight: Annotated[Texts, typer.Option("--highlight", help="A highlight of the session (repeat for more).")] = None,
    since: Annotated[
        Optional[str],
        typer.Option("--since", help="With no start and no earlier end here: collect from this time (ISO 8601, "
                     "or for build git's '2 hours ago')."),
    ] = None,
    rev_range: Annotated[Optional[str], typer.Option("--rev-range", help="build: exactly the commits of A..B (wins over the rest).")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Minutes the session took (default: since the start).")] = None,
    csv: Annotated[Optional[Path], typer.Option("--csv", help="trade: the broker's CSV export.", dir_okay=False)] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="trade: generic, ibkr or tradovate.")] = None,
    multiplier: Annotated[Texts, typer.Option("--multiplier", help="trade: point value, e.g. MES=5 (repeatable).")] = None,
    tz: Annotated[Optional[str], typer.Option("--tz", help="trade: time zone of times written without one.")] = None,
    notes: Annotated[Optional[Path], typer.Option("--notes", help="life_aria: a Markdown file or folder of notes.")] = None,
    screenshots: Annotated[Optional[Path], typer.Option("--screenshots", help="life_aria: a folder of screenshots.", file_okay=False)] = None,
    no_publish: Annotated[bool, typer.Option("--no-publish", help="Run and enqueue; publish later with `flywheel publish`.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="A warning from the collector stops the end before anything is written (exit 2); an entry the publishing scan holds exits 1 (for CI).")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Collect what happened since `flywheel start` (else since the last end, else --since), write
    the session file, run it and publish it.

    build: the commits between where the branches pointed at the start and now, on every branch
    that moved. trade: the export given with --csv. life_aria: the notes and screenshots changed
    since the start. duration_minutes is measured from the start (--duration wins). The session
    file goes to sessions_dir as <session_id>_<type>.json. Ending again with nothing new writes
    nothing and says so; an end that was killed is finished by the next one. Exit codes as for
    `flywheel run`: 0 done, 1 something failed (printed), 2 bad input or usage.
    """
    from flywheel_core.tracking import end_session

    cfg, host = _setup(config, repo)
    options: dict[str, Any] = {
        "agent_id": agent, "title": title, "summary": summary, "lessons": lesson or [], "next_steps": next_step or [],
        "highlights": highlight or [], "rev_range": rev_range,
    }
    for key, value in (("csv", csv), ("format", fmt), ("multipliers", multiplier), ("tz", tz), ("notes", notes),
                       ("screenshots", screenshots)):
        if value is not None:
            options[key] = [str(v) for v in value] if isinstance(value, list) else str(value)
    result = end_session(cfg, host, session_type=session_type, folder=repo, options=options, since=since,
                         duration=duration, publish=not no_publish, strict=strict)
    if json_out:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print_end(result)
    raise typer.Exit(result.exit_code)


def print_end(result: EndResult) -> None:
    """The one summary of an end: the session file, each artifact, each receipt, what waits or failed."""
    for note in result.notes:
        print(f"flywheel: note: {note}", file=sys.stderr)
    if result.resumed is not None:
        print("finished an end that was interrupted:")
        print_outcome(result.resumed, indent="  ")
    if result.nothing_new:
        print(result.message)
        _problems(result)
        return
    _problems(result)
    print_outcome(result)


def _problems(outcome: SessionOutcome) -> None:
    where = _rel(outcome.session_file) if outcome.session_file else "flywheel"
    for problem in outcome.problems:
        print(f"{where}: {problem.path}: {problem.severity}: {problem.message}" if problem.path != "$"
              else f"{where}: {problem.severity}: {problem.message}", file=sys.stderr)
    for error in outcome.errors:
        print(f"{where}: error: {error}", file=sys.stderr)


def print_outcome(outcome: SessionOutcome, indent: str = "") -> None:
    """What a session file became, one line per artifact, receipt and waiting entry."""
    label = {"complete": "complete", "failed": "FAILED", "invalid": "INVALID"}.get(outcome.status, outcome.status)
    extra = ""
    duration = getattr(outcome, "duration_minutes", None)
    if duration is not None:
        extra = f", {duration:g} min"
    print(f"{indent}session {_rel(outcome.session_file)}: {label} ({outcome.session_type} {outcome.session_id}{extra})")
    for kind, artifact in outcome.artifacts.items():
        print(f"{indent}  wrote {kind:<14} {_rel(artifact.path)}")
    for receipt in outcome.receipts:
        where = receipt.url or (f"commit {receipt.commit[:12]}" if receipt.commit else None)
        if receipt.url and receipt.commit:
            where = f"{receipt.url} (commit {receipt.commit[:12]})"
        print(f"{indent}  published {receipt.kind} -> {receipt.target}: {where or _detail(receipt.details)}")
    for item in outcome.pending:
        why = f": {item.error}" if item.error else ""
        if item.status == "queued" and not outcome.publish_requested and not item.error:
            why = " (publish with `flywheel publish`)"
        elif item.status == "failed":  # not lost: say that it comes back, and where to look
            why += " (tried again later; `flywheel queue list` says when)"
        elif item.status == "dead":
            why += f" (once the cause is fixed: flywheel queue retry {item.entry_id})"
        print(f"{indent}  {item.status.upper() if item.status in ('failed', 'dead') else item.status} "
              f"{item.kind} -> {item.target} (entry {item.entry_id}){why}")
    if outcome.status != "invalid" and not outcome.receipts and not outcome.pending and outcome.artifacts:
        print(f"{indent}  nothing to publish: no publication target is enabled (add a [targets.NAME] table to flywheel.toml)")


def _detail(receipt: dict[str, Any]) -> str:
    if receipt.get("paths"):
        return ", ".join(map(str, receipt["paths"]))
    if receipt.get("path"):
        return f"path {receipt['path']}"
    return json.dumps(receipt, sort_keys=True)[:200] if receipt else "confirmed"
