"""``flywheel run``, ``flywheel validate`` and ``flywheel schema``: commands on session files."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from flywheel_core.cli.options import ConfigOpt, DryRunOpt, JsonOpt, OutOpt

if TYPE_CHECKING:
    from flywheel_core.pipeline import SessionResult

FilesArg = Annotated[list[Path], typer.Argument(help="Session files (work_session.json).", show_default=False)]


def _setup(config: Path | None):
    """Load the config and plugins, and check every plugin's config table once."""
    from flywheel_core.config import check_plugin_configs, load_config
    from flywheel_core.plugins import get_host

    cfg, host = load_config(config), get_host()
    check_plugin_configs(cfg, host)
    return cfg, host


def _rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("../..") else rel


def _print_problems(result: SessionResult) -> None:
    for problem in result.problems:
        print(problem.format(result.file), file=sys.stderr)
    for error in result.errors:
        print(f"{result.file}: error: {error}", file=sys.stderr)


def validate(files: FilesArg, config: ConfigOpt = None, json_out: JsonOpt = False) -> None:
    """Check session files against the schema and the plugins' rules.

    Exit 0 when all are valid; otherwise 2, with one line per problem: FILE: $.json.path: message.
    Warnings are printed but do not fail.
    """
    from flywheel_core.pipeline import validate_file

    cfg, host = _setup(config)
    results = [validate_file(f, cfg, host)[1] for f in files]
    if json_out:
        print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    else:
        for result in results:
            _print_problems(result)
            if result.exit_code == 0:
                print(f"{result.file}: valid ({result.session_type})")
    raise typer.Exit(max(r.exit_code for r in results))


def run(
    files: Annotated[
        Optional[list[Path]], typer.Argument(help="Session files (work_session.json).", show_default=False)
    ] = None,
    session_file: Annotated[
        Optional[list[Path]],
        typer.Option("--session-file", help="A session file, as the end-of-session guide writes it (repeatable).",
                     dir_okay=False),
    ] = None,
    out: OutOpt = None,
    config: ConfigOpt = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    publish: Annotated[bool, typer.Option("--publish", help="Also publish what was enqueued.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when the publishing scan holds an entry (for CI).")] = False,
) -> None:
    """Generate the artifacts of each session, write them, and record them in the session file.

    Artifacts go to OUT/<session_type>/<session_id>/<kind>.<ext>. Exit 0 when every session
    completed, 1 when something failed at run time, 2 for bad input. A progress bar counts
    the files on a terminal.
    """
    from flywheel_core.errors import UsageError
    from flywheel_core.pipeline import run_sessions

    files = [*(files or []), *(session_file or [])]
    if not files:
        raise UsageError("name at least one session file (FILE... or --session-file FILE)")
    cfg, host = _setup(config)
    report = run_sessions(files, cfg, host, out_dir=out, dry_run=dry_run, publish_after=publish, show_progress=True,
                          strict=strict)
    if json_out:
        print(json.dumps([r.to_json() for r in report.results], indent=2, ensure_ascii=False))
    else:
        for result in report.results:
            _print_problems(result)
            if result.exit_code == 2:
                continue
            label = {"dry-run": "dry run, nothing written", "complete": "complete", "failed": "FAILED"}[result.status]
            print(f"{result.file}: {label} ({result.session_type} {result.session_id})")
            verb = "would write" if dry_run else "wrote"
            for kind, info in result.artifacts.items():
                print(f"  {verb} {kind:<14} {_rel(info['path'])}")
                for extra in info["files"]:
                    print(f"  {'':<{len(verb)}} {'':<14} {_rel(extra)}")
            by_target: dict[str, list[str]] = {}
            for item in result.enqueued:
                if item.get("status") != "held":
                    by_target.setdefault(item["target"], []).append(item["kind"])
            for target, kinds in by_target.items():
                print(f"  queued for {target}: {', '.join(kinds)}")
            if result.enqueued:  # what the publishing scan held or redacted, and why
                from flywheel_core.publishing import scan_lines

                for line in scan_lines(result.enqueued):
                    print(f"  {line}")
    queued = any(e.get("status") != "held" for r in report.results for e in r.enqueued)
    if queued and not publish and not json_out:  # a forgotten --publish: say how the rest is done
        print("\nqueued, not published yet: `flywheel publish` sends them (or run with --publish)")
    if report.published is not None:
        from flywheel_core.cli.queue import print_report

        # With --json, stdout carries one document (the run results); publish reports go to stderr.
        if not json_out:
            print("\npublishing:")
        with contextlib.redirect_stdout(sys.stderr if json_out else sys.stdout):
            print_report(report.published)
    elif publish and not dry_run and not json_out and any(r.exit_code != 2 for r in report.results):
        # --publish that sends nothing says why, rather than leave the user looking for a receipt.
        if not cfg.enabled_targets():
            where = cfg.source if cfg.found_by != "defaults" else "flywheel.toml (`flywheel init` writes one)"
            print(f"\nnothing to publish: no publication target is enabled in {where}; add a [targets.NAME] table")
        else:
            print("\nnothing new to publish: the queue already has every artifact of these sessions "
                  "(`flywheel queue list` shows where each went)")
    raise typer.Exit(report.exit_code)


def schema(
    session_type: Annotated[Optional[str], typer.Argument(help="A session type, e.g. build.")] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of the envelope, or merged with a session type's."""
    from flywheel_core.plugins import get_host
    from flywheel_core.validation import schema_for

    host = get_host()
    if session_type is not None:
        host.session_type(session_type)  # a UsageError names the distribution to install
    print(json.dumps(schema_for(session_type, host), indent=2, ensure_ascii=False))
