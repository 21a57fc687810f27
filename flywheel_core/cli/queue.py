"""``flywheel publish`` and ``flywheel queue list|retry|add|stats``: the publication queue's commands."""

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

__all__ = ["publish_due", "register"]

TargetOpt = Annotated[Optional[str], typer.Option("--target", "-t", help="Publish only to this target.")]


def _summary(receipt: dict[str, Any]) -> str:
    """The most telling part of a receipt, for one line of output."""
    if receipt.get("skipped"):
        return f"stored; {receipt['skipped']}"
    for key in ("url", "commit", "path"):
        if receipt.get(key):
            value = str(receipt[key])
            return f"{key} {value[:12] if key == 'commit' else value}"
    if receipt.get("paths"):
        return ", ".join(map(str, receipt["paths"]))
    return json.dumps(receipt, sort_keys=True)[:200] if receipt else "confirmed"


def publish_due(config: Config, host: PluginHost, *, target: str | None, dry_run: bool, json_out: bool) -> int:
    """Publish what is due and print each outcome; return the exit code (0 all published, 1 some failed)."""
    from flywheel_core.queue import publish

    outcomes, warnings = publish(config, host, target=target, dry_run=dry_run)
    for warning in warnings:
        print(f"flywheel: warning: {warning}", file=sys.stderr)
    failed = [o for o in outcomes if o.status not in ("published", "would-publish")]
    if json_out:
        import attrs

        print(json.dumps([attrs.asdict(o) for o in outcomes], indent=2, ensure_ascii=False))
        return 1 if failed else 0
    for o in outcomes:
        what = f"{o.kind} of {o.session_id} -> {o.target}"
        if o.status == "would-publish":
            print(f"would publish {what}: {_summary(o.receipt)}")
        elif o.status == "published":
            print(f"published {what}: {_summary(o.receipt)}")
        else:
            later = f"; next attempt after {o.next_attempt_at}" if o.next_attempt_at else ""
            print(f"FAILED {what} ({o.status}, attempt {o.attempts}{later}): {o.error}", file=sys.stderr)
    if not outcomes:
        print("nothing is due" + (" (dry run)" if dry_run else "") + _waiting(config, target))
    return 1 if failed else 0


def _waiting(config: Config, target: str | None) -> str:
    """Why pending entries are not due yet (a live lease, a backoff), so "nothing is due" is not a mystery."""
    from flywheel_core.queue import PublicationQueue, iso

    if not (config.state_dir / "queue.sqlite3").is_file():
        return ""
    with PublicationQueue.for_config(config) as queue:
        pending = [e for e in queue.entries() if e.status in ("publishing", "failed", "queued")
                   and (target is None or e.target == target)]
    leased = [e.lease_until or 0 for e in pending if e.status == "publishing"]
    later = [e.next_attempt_at for e in pending if e.status != "publishing"]
    parts = []
    if leased:
        parts.append(f"{len(leased)} being published by another publisher (lease until {iso(max(leased))})")
    if later:
        parts.append(f"{len(later)} waiting for their next attempt (the first at {iso(min(later))}; "
                     "`flywheel queue retry --failed` retries failed ones now)")
    return "; " + "; ".join(parts) if parts else ""


def publish_cmd(
    target: TargetOpt = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Publish every queue entry that is due, to each enabled target (or only --target).

    Exit 0 when everything due was published, 1 when some entry failed (each is printed and
    retried later with backoff), 2 for bad usage or configuration. --dry-run prints what would
    be published where and changes nothing.
    """
    from flywheel_core.config import load_config
    from flywheel_core.plugins import get_host

    raise typer.Exit(publish_due(load_config(config), get_host(), target=target, dry_run=dry_run, json_out=json_out))


queue_app = typer.Typer(help="Inspect and manage the publication queue.", no_args_is_help=True)


def _queue(config: Path | None):
    from flywheel_core.config import load_config
    from flywheel_core.queue import PublicationQueue

    cfg = load_config(config)
    return cfg, PublicationQueue.for_config(cfg)


@queue_app.command("list")
def list_cmd(
    status: Annotated[Optional[str], typer.Option("--status", "-s", help="Only entries in this state.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List queue entries (id, state, target, session, artifact, attempts, receipt or error)."""
    from flywheel_core.queue import STATUSES

    if status is not None and status not in STATUSES:
        raise UsageError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
    _, queue = _queue(config)
    if not queue.path.exists():
        entries = []  # nothing was ever enqueued: do not create a queue just to list it
    else:
        with queue:
            entries = queue.entries(status)
    if json_out:
        print(json.dumps([e.to_json() for e in entries], indent=2, ensure_ascii=False))
        return
    if not entries:
        print("the queue is empty" if status is None else f"no {status} entries")
        return
    print(f"{'ID':>5}  {'STATUS':<10}  {'TARGET':<8}  {'SESSION':<36}  {'KIND':<14}  {'TRIES':>5}  DETAIL")
    for e in entries:
        data = e.to_json()
        if e.status == "published":
            detail = _summary(e.receipt or {})
        elif e.status in ("failed", "dead"):
            detail = (f"next {data['next_attempt_at']}: " if data["next_attempt_at"] else "") + (e.last_error or "")
        elif e.status == "publishing":
            detail = f"leased until {data['lease_until']}"
        else:
            detail = ""
        print(f"{e.id:>5}  {e.status:<10}  {e.target:<8}  {e.session_id:<36}  {e.kind:<14}  {e.attempts:>5}  {detail[:200]}")


@queue_app.command("retry")
def retry_cmd(
    entry_id: Annotated[Optional[int], typer.Argument(metavar="ID", help="The entry to retry.", show_default=False)] = None,
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
    file: Annotated[Path, typer.Argument(help="An artifact file inside the output folder.", dir_okay=False, show_default=False)],
    kind: Annotated[str, typer.Option("--kind", "-k", help="The artifact kind, e.g. readme.", show_default=False)],
    targets: Annotated[str, typer.Option("--targets", help="Comma-separated targets, e.g. github,web.", show_default=False)],
    session: Annotated[
        Optional[Path], typer.Option("--session", help="The session file the artifact belongs to (records the outcome).", dir_okay=False)
    ] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Enqueue one artifact file for the given targets (the file must lie inside the output folder)."""
    from flywheel_core.config import load_config
    from flywheel_core.plugins import get_host
    from flywheel_core.queue import enqueue_file

    names = [t.strip() for t in targets.split(",") if t.strip()]
    added = enqueue_file(load_config(config), get_host(), file, kind, names, session)
    if json_out:
        print(json.dumps(added, indent=2))
        return
    for item in added:
        state = "queued" if item["new"] else f"already {item['status']}"
        print(f"{state}: entry {item['id']} {item['kind']} -> {item['target']}")


@queue_app.command("stats")
def stats_cmd(json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Count entries per target and state; show what is due and the oldest pending entry."""
    from flywheel_core.queue import STATUSES

    _, queue = _queue(config)
    if not queue.path.exists():
        stats = {"targets": {}, "due_now": 0, "oldest_pending": None, "blobs": 0, "path": str(queue.path)}
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


def register(app: typer.Typer) -> None:
    app.command("publish")(publish_cmd)
    app.add_typer(queue_app, name="queue")
