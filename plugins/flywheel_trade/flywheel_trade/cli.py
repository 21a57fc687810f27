"""``flywheel collect trade``: a broker's CSV export of executions to a trade work_session.json."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["collect_trade"]


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
        str, typer.Option("--tz", help="Time zone of times written without one, e.g. America/New_York.")
    ] = "UTC",
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
    import getpass
    from datetime import timezone

    from flywheel_core import UsageError, emit_session

    from flywheel_trade.importer import parse_multipliers, session_from_csv

    zone = timezone.utc
    if tz.strip().upper() not in ("UTC", "Z"):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            zone = ZoneInfo(tz.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"--tz {tz!r} is not a known time zone (e.g. UTC, America/New_York)") from None
    agent = agent_id if agent_id is not None else _user(getpass)
    if not agent.strip():
        raise UsageError("--agent-id must not be empty")
    session, result = session_from_csv(
        csv_file, fmt.strip().lower(), agent_id=agent, tz=zone, multipliers=parse_multipliers(multiplier or [])
    )
    for note in result.notes:
        print(f"flywheel: note: {csv_file}: {note}", file=sys.stderr)
    for warning in result.warnings:
        print(f"flywheel: warning: {csv_file}: {warning}", file=sys.stderr)
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


def _user(getpass) -> str:  # noqa: ANN001 - the module, imported lazily
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "trader"
