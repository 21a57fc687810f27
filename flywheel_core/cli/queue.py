"""``flywheel publish`` and ``flywheel queue list|retry|add|stats|migrate|export|import``: the publication queue's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from flywheel_core.cli.options import ConfigOpt, DryRunOpt, JsonOpt
from flywheel_core.errors import UsageError

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.plugins import PluginHost
    from flywheel_core.publishing import PublishOutcome, PublishReport, QueueEntry

__all__ = ["print_report", "publish_cmd", "publish_due", "queue_app"]

TargetOpt = Annotated[Optional[str], typer.Option("--target", "-t", help="Publish only to this target.")]


def _summary(receipt: dict[str, Any], *, planned: bool = False) -> str:
    """The most telling part of a receipt, for one line of output (``planned``: a dry run's, where
    every file the publication will write says more than the main one)."""
    if receipt.get("skipped"):
        return f"stored; {receipt['skipped']}"
    if planned and not receipt.get("url") and receipt.get("paths"):
        return ", ".join(map(str, receipt["paths"]))
    for key in ("url", "commit", "path"):
        if receipt.get(key):
            value = str(receipt[key])
            return f"{key} {value[:12] if key == 'commit' else value}"
    if receipt.get("paths"):
        return ", ".join(map(str, receipt["paths"]))
    return json.dumps(receipt, sort_keys=True)[:200] if receipt else "confirmed"


def publish_due(
    config: Config, host: PluginHost, *, target: str | None, dry_run: bool, json_out: bool, strict: bool = False
) -> int:
    """Publish what is due and print the report; return the exit code."""
    from flywheel_core.publishing import publish

    return print_report(publish(config, host, target=target, dry_run=dry_run, strict=strict), json_out=json_out)


def print_report(report: PublishReport, *, json_out: bool = False) -> int:
    """Print a publish report (outcomes, dead and held entries, what waits); return its exit code.

    A failure shared by a whole batch (the remote did not answer) is said once, with the
    entries it hit below it. Every dead entry is one line with its cause and the command that
    retries it, on every run until it is retried: nothing dies silently. Every held entry is
    a line with the command that reviews it, then one line per finding (masked).
    """
    import attrs

    from flywheel_core.publishing import held_lines

    for warning in report.warnings:
        print(f"flywheel: warning: {warning}", file=sys.stderr)
    if json_out:
        shown = {o.id for o in report.outcomes}
        rows = [attrs.asdict(o) for o in report.outcomes]
        rows += [{"id": e.id, "target": e.target, "session_id": e.session_id, "kind": e.kind, "status": e.status,
                  "receipt": {}, "error": e.last_error or "", "attempts": e.attempts, "next_attempt_at": None,
                  **({"scan": e.findings} if e.status == "held" else {})}
                 for e in [*report.dead, *report.held] if e.id not in shown]
        rows += [{"id": e.id, "target": e.target, "session_id": e.session_id, "kind": e.kind, "status": "waiting",
                  "receipt": {}, "error": "", "attempts": e.attempts, "next_attempt_at": None,
                  "waiting_for": [_prerequisite(a) for a in ahead]}
                 for e, ahead in report.blocked]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return report.exit_code
    failed: dict[tuple[str, str], list[PublishOutcome]] = {}
    for o in report.outcomes:
        what = f"{o.kind} of {o.session_id} -> {o.target}"
        if o.status == "would-publish":
            print(f"would publish {what}: {_summary(o.receipt, planned=True)}")
        elif o.status == "published":
            print(f"published {what}: {_summary(o.receipt)}")
        elif o.status != "dead":  # dead ones are listed below, with the rest
            failed.setdefault((o.target, o.error), []).append(o)
    for (target, error), group in failed.items():
        if len(group) == 1:
            o = group[0]
            print(f"FAILED {o.kind} of {o.session_id} -> {target} ({_attempt(o)}): {error}", file=sys.stderr)
            continue
        print(f"FAILED {len(group)} entries -> {target}: {error}", file=sys.stderr)
        for o in group:
            print(f"  {o.kind} of {o.session_id} ({_attempt(o)})", file=sys.stderr)
    for e in report.dead:
        tries = f"{e.attempts} failed attempt{'s' if e.attempts != 1 else ''}"
        if e.interruptions:
            tries += f", {e.interruptions} interrupted"
        print(f"DEAD {e.kind} of {e.session_id} -> {e.target} (entry {e.id}; {tries}): {e.last_error or 'no error recorded'}"
              f"; once the cause is fixed: flywheel queue retry {e.id}", file=sys.stderr)
    for e, ahead in report.stuck:
        print(f"WAITING {e.kind} of {e.session_id} -> {e.target} (entry {e.id}) for "
              + "; ".join(_stuck(a, e) for a in ahead if a.status in ("dead", "rejected")), file=sys.stderr)
    for line in held_lines(report.held):
        print(line, file=sys.stderr if report.strict else sys.stdout)
    if not report.outcomes:
        held = f"; {len(report.held)} held for review (flywheel review list)" if report.held else ""
        print("nothing is due" + (" (dry run)" if report.dry_run else "") + _waiting(report.waiting) + held)
    for line in _blocked(report):
        print(line)
    return report.exit_code


def _prerequisite(entry: QueueEntry) -> dict[str, Any]:
    """An entry another waits for, as JSON output shows it."""
    return {"id": entry.id, "target": entry.target, "kind": entry.kind, "status": entry.status,
            "error": entry.last_error or ""}


def _stuck(ahead: QueueEntry, entry: QueueEntry) -> str:
    """Why ``entry`` cannot move while ``ahead`` (dead or rejected) is as it is, and what a person does."""
    what = f"entry {ahead.id} ({ahead.kind} -> {ahead.target})"
    if ahead.status == "dead":
        return (f"{what}, which is dead: {ahead.last_error or 'no error recorded'}; once the cause is fixed: "
                f"flywheel queue retry {ahead.id}")
    return (f"{what}, which was rejected in review: flywheel review approve {ahead.id} publishes it and then this "
            f"entry, flywheel review reject {entry.id} drops this entry too")


def _blocked(report: PublishReport) -> list[str]:
    """One line per group of entries waiting for the same entries that a person need not act on yet:
    "2 social posts wait for the page (#5 web failed: ...)"."""
    stuck = {e.id for e, _ in report.stuck}
    groups: dict[tuple[int, ...], tuple[list[QueueEntry], list[QueueEntry]]] = {}
    for entry, ahead in report.blocked:
        if entry.id not in stuck:
            groups.setdefault(tuple(a.id for a in ahead), ([], ahead))[0].append(entry)
    lines = []
    for group, ahead in groups.values():
        posts = all(e.kind == "social_post" for e in group)
        count = len(group)
        what = (f"{count} social post{'s' * (count != 1)}" if posts
                else f"{count} entr{'ies' if count != 1 else 'y'}")
        states = "; ".join(_ahead_state(a) for a in ahead)
        lines.append(f"{what} wait{'s' * (count == 1)} for {'the page' if posts else 'other entries'} ({states})")
    return lines


def _ahead_state(entry: QueueEntry) -> str:
    """"#5 web failed: HTTP 503 ...": an entry others wait for, and where it stands."""
    state = f"#{entry.id} {entry.target} {entry.status}"
    if entry.status == "failed" and entry.last_error:
        return f"{state}: {entry.last_error[:200]}"
    if entry.status == "held":
        return f"{state} for review: flywheel review show {entry.id}"
    return state


def _attempt(o: PublishOutcome) -> str:
    later = f"; next attempt after {o.next_attempt_at}" if o.next_attempt_at else ""
    return f"{o.status}, attempt {o.attempts}{later}"


def _waiting(pending: list[QueueEntry]) -> str:
    """Why pending entries are not due yet (a live lease, a backoff), so "nothing is due" is not a mystery."""
    from flywheel_core.publishing import iso

    leased = [e.lease_until or 0 for e in pending if e.status == "publishing"]
    later = [e.next_attempt_at for e in pending if e.status != "publishing"]
    parts = []
    if leased:
        parts.append(f"{len(leased)} being published by another publisher (lease until {iso(max(leased))})")
    if later:
        parts.append(f"{len(later)} waiting for their next attempt (the first at {iso(min(later))}; "
                     "`flywheel queue retry --failed` retries failed ones now)")
    return "; " + "; ".join(parts) if parts else ""


StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 when an entry is held for review (for CI).")]


def publish_cmd(
    target: TargetOpt = None,
    dry_run: DryRunOpt = False,
    strict: StrictOpt = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Publish every queue entry that is due, to each enabled target (or only --target).

    Exit 0 when everything due was published, 1 when some entry failed (each is printed and
    retried later with backoff) or is dead (each is printed with the command that retries it),
    2 for bad usage or configuration. Entries the publishing scan held are listed with their
    findings (masked) and are not published until `flywheel review approve`; they exit 0
    (the policy working), or 1 with --strict. A social post is published only after the page
    it links to (the site first, then the posts): while that page fails the posts wait untried,
    and a dead or rejected page exits 1 naming them. --dry-run prints what would be published
    where, and what would wait, and changes nothing.
    """
    from flywheel_core.config import load_config
    from flywheel_core.plugins import get_host

    raise typer.Exit(publish_due(load_config(config), get_host(), target=target, dry_run=dry_run, json_out=json_out,
                                 strict=strict))


queue_app = typer.Typer(help="Inspect and manage the publication queue.", no_args_is_help=True)


def _queue(config: Path | None):
    from flywheel_core.config import load_config
    from flywheel_core.publishing import open_queue

    cfg = load_config(config)
    return cfg, open_queue(cfg)


@queue_app.command("list")
def list_cmd(
    status: Annotated[Optional[str], typer.Option("--status", "-s", help="Only entries in this state.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List queue entries (id, state, target, session, artifact, attempts, receipt or error)."""
    from flywheel_core.publishing import STATUSES

    if status is not None and status not in STATUSES:
        raise UsageError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
    _, queue = _queue(config)
    if not queue.exists():
        entries, unmet = [], {}  # nothing was ever enqueued: do not create a queue just to list it
    else:
        with queue:
            entries = queue.entries(status)
            unmet = queue.unmet(e for e in entries if e.status in ("queued", "failed"))
    if json_out:
        print(json.dumps([{**e.to_json(), "waiting_for": [_prerequisite(a) for a in unmet.get(e.id, [])]}
                          for e in entries], indent=2, ensure_ascii=False))
        return
    if not entries:
        print("the queue is empty" if status is None else f"no {status} entries")
        return
    print(f"{'ID':>5}  {'STATUS':<10}  {'TARGET':<8}  {'SESSION':<36}  {'KIND':<14}  {'TRIES':>5}  DETAIL")
    for e in entries:
        data = e.to_json()
        if e.status == "published":
            detail = _summary(e.receipt or {})
        elif e.status == "failed":
            detail = f"next {data['next_attempt_at']}: {e.last_error or ''}"
        elif e.status == "dead":
            detail = f"[retry: flywheel queue retry {e.id}] {e.last_error or 'no error recorded'}"
        elif e.status == "publishing":
            detail = f"leased until {data['lease_until']}"
        elif e.status == "held":
            scan = e.findings or {}
            found = len(scan.get("findings") or [])
            detail = (f"[review: flywheel review show {e.id}] "
                      + ("review = always" if scan.get("held") == "review" else f"{found} finding{'s' * (found != 1)}"))
        else:
            detail = ""
        if e.id in unmet:
            detail = "waiting for " + ", ".join(f"#{a.id} ({a.target}, {a.status})" for a in unmet[e.id])
        if e.interruptions and e.status != "published":
            detail = f"interrupted {e.interruptions}x; {detail}" if detail else f"interrupted {e.interruptions}x"
        print(f"{e.id:>5}  {e.status:<10}  {e.target:<8}  {e.session_id:<36}  {e.kind:<14}  {e.attempts:>5}  {detail[:200]}")


@queue_app.command("retry")
def retry_cmd(
    entry_id: Annotated[Optional[int], typer.Argument(metavar="ID", help="The entry to retry.", show_default=False,
                                                      min=1, max=2**63 - 1)] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed and dead entry.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Make a failed or dead entry (or all of them, --failed) due again now, with fresh attempts."""
    if (entry_id is None) == (not failed):
        raise UsageError("give either an entry ID or --failed")
    _, queue = _queue(config)
    with queue:
        ids = queue.retry(None if failed else entry_id)
    print(f"{len(ids)} entr{'y' if len(ids) == 1 else 'ies'} queued again" + (f": {', '.join(map(str, ids))}" if ids else ""))


@queue_app.command("add")
def add_cmd(
    file: Annotated[
        Optional[Path], typer.Argument(help="An artifact file inside the output folder.", dir_okay=False, show_default=False)
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", "--type", "-k", help="The artifact kind, e.g. readme.", show_default=False)
    ] = "",
    targets: Annotated[str, typer.Option("--targets", help="Comma-separated targets, e.g. github,web.", show_default=False)] = "",
    session: Annotated[
        Optional[Path], typer.Option("--session", help="The session file the artifact belongs to (records the outcome).", dir_okay=False)
    ] = None,
    file_opt: Annotated[
        Optional[Path], typer.Option("--file", help="The artifact file (instead of FILE).", dir_okay=False, show_default=False)
    ] = None,
    _add_entry: Annotated[
        bool, typer.Option("--add-entry", hidden=True, help="Accepted, and changes nothing: the guide's run_publication.py flag.")
    ] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Enqueue one artifact file for the given targets (the file must lie inside the output folder).

    The end-of-session guide's `run_publication.py --add-entry --type KIND --file PATH --targets
    github,web` works as it is: --type is --kind, --file is FILE.
    """
    from flywheel_core.config import load_config
    from flywheel_core.plugins import get_host
    from flywheel_core.publishing import enqueue_file

    if (file is None) == (file_opt is None):
        raise UsageError("name the artifact file once: FILE or --file FILE")
    file = file or file_opt
    if not kind:
        raise UsageError("--kind (or --type) is required: the artifact kind, e.g. readme")
    if not targets:
        raise UsageError("--targets is required: comma-separated targets, e.g. github,web")
    names = [t.strip() for t in targets.split(",") if t.strip()]
    added = enqueue_file(load_config(config), get_host(), file, kind, names, session)
    if json_out:
        print(json.dumps(added, indent=2))
        return
    from flywheel_core.publishing import held_lines

    for item in added:
        state = item["status"] if item["new"] else f"already {item['status']}"
        print(f"{state}: entry {item['id']} {item['kind']} -> {item['target']}")
    for line in held_lines(added):
        print(line)


@queue_app.command("stats")
def stats_cmd(json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Count entries per target and state; show what is due and the oldest pending entry."""
    from flywheel_core.publishing import STATUSES

    _, queue = _queue(config)
    if not queue.exists():
        stats = {"targets": {}, "due_now": 0, "oldest_pending": None, "blobs": 0, "path": queue.location}
    else:
        with queue:
            stats = queue.stats()
    if json_out:
        print(json.dumps(stats, indent=2))
        return
    print(f"queue: {stats['path']}")
    if not stats["targets"]:
        print("the queue is empty")
        return
    print(f"{'TARGET':<10}" + "".join(f"{s:>12}" for s in STATUSES))
    for target, counts in sorted(stats["targets"].items()):
        print(f"{target:<10}" + "".join(f"{counts[s]:>12}" for s in STATUSES))
    print(f"due now: {stats['due_now']}; oldest pending since: {stats['oldest_pending'] or '-'}; stored blobs: {stats['blobs']}")


@queue_app.command("migrate")
def migrate_cmd(json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Create the queue's tables, or bring them up to this flywheel's schema version.

    An SQLite queue is upgraded whenever it is opened; a PostgreSQL queue shared by a fleet only
    by this command (stop the workers of older versions first: docs/scaling.md).
    """
    from flywheel_core.publishing import SCHEMA_VERSION

    _, queue = _queue(config)
    with queue:
        before, after = queue.storage.migrate()
    if json_out:
        print(json.dumps({"queue": queue.location, "before": before, "after": after, "schema": SCHEMA_VERSION}))
    elif before == after:
        print(f"{queue.location}: the queue's schema is version {after}, nothing to do")
    elif before == 0:
        print(f"{queue.location}: created the queue (schema version {after})")
    else:
        print(f"{queue.location}: upgraded the queue from schema version {before} to {after}")


@queue_app.command("export")
def export_cmd(
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", dir_okay=False, help="Write to this file (default: standard output).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Write the whole queue (entries, session files, shared stores, blobs in base64) as JSON lines.

    `flywheel queue import` reads it into another queue, on either backend, without loss:
    `flywheel queue export -o queue.jsonl`, then `flywheel -c fleet.toml queue import queue.jsonl`.
    """
    from flywheel_core.fsutil import atomic_write
    from flywheel_core.publishing.transfer import export_queue

    _, queue = _queue(config)
    with queue:
        if output is None:
            counts = export_queue(queue, sys.stdout)
        else:
            import io

            buffer = io.StringIO()
            counts = export_queue(queue, buffer)
            atomic_write(output, buffer.getvalue().encode("utf-8"))
    print(f"exported {counts['items']} entries, {counts['session_files']} session files, "
          f"{counts['documents']} shared documents and {counts['blobs']} blobs from {queue.location}", file=sys.stderr)


@queue_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="An export of `flywheel queue export` ('-': standard input).",
                                         dir_okay=False, show_default=False)],
    config: ConfigOpt = None,
) -> None:
    """Load a `flywheel queue export` into this (empty) queue, keeping entry ids; nothing is published."""
    from flywheel_core.publishing.transfer import import_queue

    _, queue = _queue(config)
    with queue:
        if str(file) == "-":
            counts = import_queue(queue, sys.stdin, source="standard input")
        else:
            try:
                handle = file.open(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"{file}: cannot read the export: {exc.strerror}") from None
            with handle:
                counts = import_queue(queue, handle, source=str(file))
    print(f"imported {counts['items']} entries, {counts['session_files']} session files, "
          f"{counts['documents']} shared documents and {counts['blobs']} blobs into {queue.location}")
