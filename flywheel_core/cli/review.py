"""``flywheel review list|show|approve|reject|allow``: a person's decision on what the publishing scan held."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from flywheel_core.cli.options import ConfigOpt, JsonOpt

if TYPE_CHECKING:
    from flywheel_core.publishing.review import ReviewOutcome

__all__ = ["register", "review_app"]

review_app = typer.Typer(
    help="Read, approve or reject queue entries the publishing scan held (docs/secrets.md).", no_args_is_help=True
)
#: The largest id a queue row can have (SQLite and PostgreSQL store 64-bit integers): a larger one
#: ended in "internal error: OverflowError" instead of a usage error.
MAX_ID = 2**63 - 1
IdArg = Annotated[int, typer.Argument(metavar="ID", help="The queue entry (see `flywheel review list`).", show_default=False,
                                      min=1, max=MAX_ID)]
NoteOpt = Annotated[str, typer.Option("--note", help="Why these values are not secret (kept in the allow-list).")]


def _config(config):
    from flywheel_core.config import load_config

    return load_config(config)


def _what(entry) -> str:
    return f"{entry.kind} of {entry.session_id} -> {entry.target}"


@review_app.command("list")
def list_cmd(
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="Only entries of this target.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List held entries with their findings (masked: never a value), one line per finding."""
    from flywheel_core.publishing import held_lines
    from flywheel_core.publishing.review import held_entries, review_json

    entries = held_entries(_config(config), [target] if target else None)
    if json_out:
        print(json.dumps([review_json(e) for e in entries], indent=2, ensure_ascii=False))
        return
    if not entries:
        print("nothing is held")
        return
    for line in held_lines(entries):
        print(line)
    print(f"\n{len(entries)} held entr{'y' if len(entries) == 1 else 'ies'}: `flywheel review approve ID` publishes "
          "one as it is, `flywheel review reject ID` never publishes it (at any target), `flywheel review allow ID` "
          "adds its findings to the allow-list")


@review_app.command("show")
def show_cmd(entry_id: IdArg, json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Show one entry: why it is held, each finding with its line (the value masked), its files,
    and the other targets' entries of the same artifact version."""
    from flywheel_core.errors import UsageError
    from flywheel_core.publishing import open_queue
    from flywheel_core.publishing.review import finding_context, findings_of, review_json

    queue = open_queue(_config(config))
    if not queue.exists():
        raise UsageError(f"no queue entry with id {entry_id} (the queue {queue.location} does not exist yet)")
    with queue:
        entry = queue.get(entry_id)
        if entry is None:
            raise UsageError(f"no queue entry with id {entry_id}")
        others = [e for e in queue.version_entries(entry) if e.id != entry.id]
        contexts = [finding_context(queue, entry, f) for f in findings_of(entry)]
    if json_out:
        data = review_json(entry)
        data["others"] = [{"id": e.id, "target": e.target, "status": e.status} for e in others]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    scan = entry.findings or {}
    print(f"entry {entry.id}: {_what(entry)}: {entry.status}")
    if scan:
        held = {"findings": "the scan found what is listed below",
                "review": 'the target reviews every entry (review = "always")',
                "unredactable": f"it cannot be redacted: {scan.get('reason', '')}"}.get(scan.get("held") or "", "")
        print(f"  scan policy: {scan.get('policy')}" + (f"; held because {held}" if held and entry.status == "held" else "")
              + (f"; approved {scan['approved']}" if scan.get("approved") else ""))
    else:
        print("  not scanned (enqueued before the publishing scan existed)")
    for finding, context in zip(findings_of(entry), contexts):
        print(f"  {finding.describe()}")
        if context is not None:
            print(f"      {context}")
    print(f"  files: {', '.join(sorted(entry.files))}" + (f" (written to {entry.artifact_path})" if entry.artifact_path else ""))
    for other in others:
        print(f"  same version for {other.target}: entry {other.id}, {other.status}")
    if entry.status == "held":
        print(f"decide: flywheel review approve {entry.id} | flywheel review reject {entry.id} | flywheel review allow {entry.id}")


def _print_others(outcome: ReviewOutcome) -> None:
    for other in outcome.others:
        if other.status == "held":
            print(f"  still held for {other.target}: entry {other.id} (flywheel review approve {other.id})")


@review_app.command("approve")
def approve_cmd(
    entry_id: IdArg,
    allow: Annotated[bool, typer.Option("--allow", help="Also add its findings to the allow-list.")] = False,
    note: NoteOpt = "",
    config: ConfigOpt = None,
) -> None:
    """Publish a held entry as it is: it is queued again (the next `flywheel publish` sends it)
    and marked approved, so the same bytes are never held again."""
    from flywheel_core.publishing.review import approve

    cfg = _config(config)
    outcome = approve(cfg, entry_id, allow_findings=allow, note=note)
    print(f"approved entry {entry_id} ({_what(outcome.entry)}): queued; `flywheel publish` publishes it")
    if allow:
        print(f"  {outcome.allowed} finding(s) added to the allow-list {cfg.allowlist_path}")
    _print_others(outcome)


@review_app.command("reject")
def reject_cmd(entry_id: IdArg, config: ConfigOpt = None) -> None:
    """Never publish this artifact version: every target's entry of it that is not published
    yet is marked rejected. A target that already published it is named (remove it there)."""
    from flywheel_core.cli.queue import _summary
    from flywheel_core.publishing.review import reject

    outcome = reject(_config(config), entry_id)
    for entry in sorted([outcome.entry, *outcome.others], key=lambda e: e.id):
        if entry.status == "rejected":
            print(f"rejected entry {entry.id} ({_what(entry)})")
        elif entry.status == "published":
            where = _summary(entry.receipt or {})
            print(f"ALREADY PUBLISHED entry {entry.id} ({_what(entry)}): {where}; flywheel cannot take it back, "
                  "remove it there by hand")


@review_app.command("allow")
def allow_cmd(entry_id: IdArg, note: NoteOpt = "", config: ConfigOpt = None) -> None:
    """Add an entry's findings to the allow-list (known false positives: never values that are
    secret), then queue every held entry whose findings are all allowed now."""
    from flywheel_core.publishing.review import allow

    cfg = _config(config)
    outcome = allow(cfg, entry_id, note=note)
    print(f"{outcome.allowed} finding(s) added to the allow-list {cfg.allowlist_path}")
    for entry in outcome.changed:
        print(f"  queued entry {entry.id} ({_what(entry)}): nothing left to hold it")
    if outcome.entry.status == "held":
        print(f"  entry {entry_id} is still held ({(outcome.entry.findings or {}).get('held')}): "
              f"flywheel review approve {entry_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
