"""The trade plugin's hook implementations; heavy modules are imported inside the hooks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_core import hookimpl

if TYPE_CHECKING:
    import typer

    from flywheel_core import Artifact, Problem, RunContext, Session, SessionType

__all__ = [
    "flywheel_collect_session",
    "flywheel_generate",
    "flywheel_register_commands",
    "flywheel_session_types",
    "flywheel_template_dirs",
    "flywheel_validate",
]

TYPE = "trade"


@hookimpl
def flywheel_session_types() -> list[SessionType]:
    from flywheel_core import SessionType

    from flywheel_trade.schema import TRADE_SCHEMA

    return [
        SessionType(
            TYPE,
            description="A trading session: trades to a journal with metrics, an equity chart and a social post.",
            schema=TRADE_SCHEMA,
            artifacts=("trade_journal", "trade_metrics", "social_post"),
        )
    ]


@hookimpl
def flywheel_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def flywheel_register_commands(cli: typer.Typer, collect: typer.Typer) -> None:
    from flywheel_core import lazy_command

    # Imported only when `flywheel collect trade` runs: `flywheel --help` stays fast.
    lazy_command(collect, "flywheel_trade.cli:collect_trade", name=TYPE,
                 help="Import executions from a CSV export and pair them into round-trip trades (FIFO per symbol).")


@hookimpl
def flywheel_collect_session(session_type: str, options: dict[str, Any], ctx: RunContext) -> dict[str, Any] | None:
    if session_type != TYPE:
        return None
    from flywheel_trade.cli import collect_from_options

    return collect_from_options(options, ctx)


@hookimpl
def flywheel_validate(session: Session, ctx: RunContext) -> list[Problem] | None:
    if session.session_type != TYPE:
        return None
    from flywheel_trade.journal import validation_problems

    return validation_problems(session)


@hookimpl
def flywheel_generate(session: Session, ctx: RunContext) -> list[Artifact] | None:
    if session.session_type != TYPE:
        return None
    from flywheel_trade.journal import build_artifacts

    return build_artifacts(session, ctx)
