"""``flywheel worker``: publish due work as it arrives, until stopped; one line per publication, a summary at the end."""

from __future__ import annotations

import json
import signal
import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from flywheel_core.cli.options import ConfigOpt, JsonOpt

if TYPE_CHECKING:
    from flywheel_core.publishing import PublishOutcome

__all__ = ["worker_cmd"]


def _line(outcome: PublishOutcome) -> tuple[str, bool]:
    """One line for a publication, and whether it goes to stderr (a failure)."""
    from flywheel_core.cli.queue import _summary

    what = f"{outcome.kind} of {outcome.session_id} -> {outcome.target}"
    if outcome.status == "published":
        return f"published {what}: {_summary(outcome.receipt)}", False
    if outcome.status == "dead":
        return f"DEAD {what} (entry {outcome.id}): {outcome.error}; once the cause is fixed: flywheel queue retry {outcome.id}", True
    later = f"; next attempt after {outcome.next_attempt_at}" if outcome.next_attempt_at else ""
    return f"FAILED {what} (attempt {outcome.attempts}{later}): {outcome.error}", True


def worker_cmd(
    target: Annotated[Optional[list[str]], typer.Option(
        "--target", "-t", help="Work on this target only (repeat for several; default: every enabled one).")] = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", "-j", min=1, max=64, help="Batches published at once (threads, each with its own lease).")] = 1,
    once: Annotated[bool, typer.Option("--once", help="Publish what is due now, then stop (do not wait for more).")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Publish queue entries as they become due, until stopped (SIGTERM or Ctrl-C).

    Waits for new work without polling on PostgreSQL (LISTEN/NOTIFY), polls an SQLite queue
    twice a second. Prints one line per publication and a summary when it stops. The first
    SIGTERM or Ctrl-C lets the batches in hand finish; a second one gives them back to the
    queue unpublished and stops at once. Run one or more workers per target on each machine
    of a fleet (docs/scaling.md). --json prints the summary as JSON. Exit 0; 1 when --once
    leaves failed or dead entries.
    """
    from flywheel_core.config import load_config
    from flywheel_core.plugins import get_host
    from flywheel_core.publishing.worker import Worker

    def show(outcome: PublishOutcome) -> None:
        if json_out:
            return
        line, failed = _line(outcome)
        print(line, file=sys.stderr if failed else sys.stdout, flush=True)

    worker = Worker(load_config(config), get_host(), targets=target, concurrency=concurrency, once=once,
                    on_outcome=show)
    signals = {"count": 0}

    def stop(signum: int, frame: object) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            print(f"flywheel worker: {signal.Signals(signum).name}: finishing the batches in hand "
                  "(again to give them back and stop now)", file=sys.stderr, flush=True)
            worker.stop()
        else:
            worker.stop(release=True)  # run() gives the batches back and returns

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>`: where every thread of a stuck worker is, on stderr
        import faulthandler

        faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        report = worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    interrupted = signals["count"] > 1
    if json_out:
        print(json.dumps({"published": report.published, "failed": report.failed, "dead": report.dead,
                          "batches": report.batches, "released": report.released, "seconds": round(report.seconds, 3),
                          "errors": report.errors}, indent=2))
    else:
        print(report.summary(), file=sys.stderr)
    for error in report.errors:
        print(f"flywheel: error: {error}", file=sys.stderr)
    if interrupted:
        raise typer.Exit(130)
    raise typer.Exit(1 if report.errors or (once and (report.failed or report.dead)) else 0)
