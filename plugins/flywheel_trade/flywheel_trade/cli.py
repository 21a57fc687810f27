"""``flywheel collect trade`` and the trade collector (``flywheel_collect_session``): a broker's CSV export of executions to a trade session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from flywheel_core import RunContext

__all__ = ["collect_from_options", "collect_trade"]


def collect_trade(
    csv_file: Annotated[
        Path, typer.Option("--csv", help="CSV export of executions (fills).", dir_okay=False, show_default=False)
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="generic (timestamp,symbol,side,quantity,price,fees), ibkr or tradovate.")
    ] = "generic",
    agent_id: Annotated[
        Optional[str], typer.Option("--agent-id", help="agent_id of the session (default: your user name).")
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the session here (default: stdout).", dir_okay=False)
    ] = None,
    tz: Annotated[
        Optional[str],
        typer.Option("--tz", show_default=False,
                     help="Time zone of times written without one, e.g. America/New_York (default: UTC, with a warning)."),
    ] = None,
    multiplier: Annotated[
        Optional[list[str]],
        typer.Option("--multiplier", help="Point value of a symbol or futures root, e.g. MES=5 (repeatable)."),
    ] = None,
) -> None:
    """Import executions from a CSV export and pair them into round-trip trades (FIFO per symbol).

    Partial fills, scaling in and out, and flips from long to short are handled; positions still
    open at the end are listed as open trades. A row that cannot be read stops the import with
    its line and column (exit 2); nothing is dropped silently.
    """
    from flywheel_core import collect_session, emit_session

    options = {"csv": str(csv_file), "format": fmt, "agent_id": agent_id, "tz": tz, "multipliers": multiplier or []}
    collected = collect_session("trade", options, session_path=output)
    for note in collected.notes:
        print(f"flywheel: note: {note}", file=sys.stderr)
    for problem in collected.problems:
        print(f"flywheel: warning: {problem.message}", file=sys.stderr)
    session = collected.document
    emit_session(session, output)
    if output is None:
        return
    trades = session["source_data"]["trades"]
    still_open = sum(1 for t in trades if "exit_timestamp" not in t)
    carried = len(session["source_data"].get("carried_in", []))
    print(
        f"{output}: {len(trades)} trade(s) ({still_open} open{f', {carried} carried-in position(s) closed' if carried else ''}) "
        f"from {session['metadata']['import']['executions']} execution(s)",
        file=sys.stderr,
    )


#: The narrative options of ``flywheel end`` and where a trade session keeps them.
_NARRATIVE = {"lessons": "lessons", "next_steps": "next_goals"}


def collect_from_options(options: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """A trade session from ``flywheel_collect_session`` options: ``csv`` (required), ``format``
    (generic, ibkr, tradovate), ``tz``, ``multipliers`` (``["MES=5"]`` or ``{"MES": 5}``),
    ``agent_id`` (default: the user's name), and ``lessons``/``next_steps`` for the journal.
    The whole export is read each time (pairing needs every fill); its session id is a hash of
    the file, so the same export gives the same session."""
    import getpass
    from datetime import timezone

    from flywheel_core import UsageError

    from flywheel_trade.importer import parse_multipliers, session_from_csv

    if not options.get("csv"):
        raise UsageError("a trade session is collected from a broker's CSV export: pass --csv FILE (and --format)")
    csv_file = Path(str(options["csv"]))
    fmt = str(options.get("format") or "generic")
    tz = str(options.get("tz") or "")
    zone = timezone.utc  # not named: the import warns that times without a zone were read as UTC
    if tz.strip():
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            zone = ZoneInfo("UTC" if tz.strip().upper() in ("UTC", "Z") else tz.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"--tz {tz!r} is not a known time zone (e.g. UTC, America/New_York)") from None
    agent = options.get("agent_id")
    agent = str(agent) if agent is not None else _user(getpass)
    if not agent.strip():
        raise UsageError("--agent-id must not be empty")
    given = options.get("multipliers") or []
    if isinstance(given, dict):
        given = [f"{k}={v}" for k, v in given.items()]
    session, result = session_from_csv(
        csv_file, fmt.strip().lower(), agent_id=agent, tz=zone, multipliers=parse_multipliers(list(given))
    )
    for note in result.notes:
        ctx.note(f"{csv_file}: {note}")
    for warning in result.warnings:
        ctx.warn(f"{csv_file}: {warning}")
    for advice in result.advice:
        ctx.note(f"{csv_file}: {advice}")
    last = _last_import(options.get("last_session_file"), session["metadata"]["import"])
    if last is not None:
        _leave_out_published(session, csv_file, *last, ctx)
    for key, field in _NARRATIVE.items():
        items = [str(v).strip() for v in options.get(key) or [] if str(v).strip()]
        if items:
            session[field] = items
    unused = [f"--{k.replace('_', '-')}" for k in ("title", "summary", "highlights") if options.get(k)]
    if unused:
        ctx.warn(f"a trade journal has no place for {', '.join(unused)}: left out (it takes --lesson and --next)")
    return session


def _last_import(path: Any, current: dict[str, Any]) -> tuple[datetime, str] | None:
    """(the newest execution, the session id) of the previous end's import of the same export
    (same file name and format), or None: another export's times say nothing about this one."""
    import json

    from flywheel_core import parse_timestamp, read_regular_file

    if not isinstance(path, str):
        return None
    try:  # read_regular_file: a FIFO there would wait for ever; PathRefused is a ValueError
        doc = json.loads(read_regular_file(Path(path), 64 * 1024 * 1024).decode("utf-8"))
        record = doc["metadata"]["import"]
        if (doc["session_type"], record["file"], record["format"]) != ("trade", current["file"], current["format"]):
            return None
        if record["sha256"] == current["sha256"]:
            return None  # the same export again: core says it is the session ended last
        return parse_timestamp(doc["timestamp"])[0], str(doc["session_id"])
    except (OSError, ValueError, KeyError, TypeError):  # gone or edited: collect the whole export
        return None


def _leave_out_published(session: dict[str, Any], csv_file: Path, until: datetime, previous: str, ctx: RunContext) -> None:
    """Leave out what the previous end published from a growing export: trades closed, and
    opened, by its newest execution. Comparing with that (not with the clock) keeps an export
    whose times are in another zone right."""
    from flywheel_core import NothingToCollect, parse_timestamp

    def done(item: dict[str, Any]) -> bool:
        stamp = item.get("exit_timestamp") or item.get("timestamp")
        return isinstance(stamp, str) and parse_timestamp(stamp)[0] <= until

    source = session["source_data"]
    trades = [t for t in source["trades"] if not done(t)]
    carried = [c for c in source.get("carried_in", []) if not done(c)]
    dropped = len(source["trades"]) - len(trades) + len(source.get("carried_in", [])) - len(carried)
    if not dropped:
        return
    if not trades and not carried:
        raise NothingToCollect(f"{csv_file}: nothing after {until:%Y-%m-%d %H:%M:%S}, the newest execution session "
                               f"{previous} read from it")
    source["trades"] = trades
    if carried:
        source["carried_in"] = carried
    else:
        source.pop("carried_in", None)
    ctx.note(f"{csv_file}: left out {dropped} trade(s) done by {until:%Y-%m-%d %H:%M:%S}, the newest execution "
             f"session {previous} read from this export: published then")


def _user(getpass) -> str:  # noqa: ANN001 - the module, imported lazily
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "trader"
