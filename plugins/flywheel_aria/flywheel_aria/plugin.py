"""The flywheel hooks of the life_aria session type (imports stay light: ``flywheel --help`` loads this)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_core import hookimpl

if TYPE_CHECKING:
    import typer

    from flywheel_core import Artifact, Problem, RunContext, Session, SessionType

__all__ = [
    "flywheel_config_schema",
    "flywheel_generate",
    "flywheel_collect_session",
    "flywheel_register_commands",
    "flywheel_session_types",
    "flywheel_template_dirs",
    "flywheel_validate",
]

SESSION_TYPE = "life_aria"


@hookimpl
def flywheel_session_types() -> list[SessionType]:
    from flywheel_core import SessionType

    from flywheel_aria.schema import SESSION_SCHEMA

    return [
        SessionType(
            SESSION_TYPE,
            description="A life or creative session (Aria conversations, things made, screenshots): "
            "a devlog with a gallery, and a social post.",
            schema=SESSION_SCHEMA,
            artifacts=("devlog", "social_post"),
        )
    ]


@hookimpl
def flywheel_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def flywheel_config_schema() -> dict[str, Any]:
    from flywheel_aria.schema import CONFIG_SCHEMA

    return CONFIG_SCHEMA


@hookimpl
def flywheel_register_commands(cli: typer.Typer, collect: typer.Typer) -> None:
    from flywheel_core import lazy_command

    # Imported only when `flywheel collect aria` runs: `flywheel --help` stays fast.
    lazy_command(collect, "flywheel_aria.collect:collect_aria", name="aria",
                 help="Write a life_aria work_session.json from Markdown notes and a folder of screenshots.")


@hookimpl
def flywheel_collect_session(session_type: str, options: dict[str, Any], ctx: RunContext) -> dict[str, Any] | None:
    if session_type != SESSION_TYPE:
        return None
    from flywheel_aria.collect import collect_from_options

    return collect_from_options(options, ctx)


@hookimpl
def flywheel_validate(session: Session, ctx: RunContext) -> list[Problem] | None:
    """Warn when declared counts disagree with the data, or a screenshot path is refused or missing."""
    if session.session_type != SESSION_TYPE:
        return None
    from flywheel_core import Problem, UsageError

    from flywheel_aria.facts import count_created
    from flywheel_aria.gallery import check_paths
    from flywheel_aria.generate import refusal_problems, settings

    problems = []
    try:
        settings(
            ctx
        )  # core does not check [plugins.aria] yet: a bad table stops the run here (exit 2)
    except UsageError as exc:
        problems.append(Problem.error(str(exc), "$"))
    source = session.source_data if isinstance(session.source_data, dict) else {}
    actual = {
        "artifacts_created": (
            count_created(source),
            "the conversations list {n} created artifact{s}",
        ),
        "screenshots_taken": (
            len(source.get("screenshots") or []),
            "source_data.screenshots lists {n}",
        ),
    }
    for key, (count, says) in actual.items():
        declared = session.metadata.get(key)
        if isinstance(declared, int) and not isinstance(declared, bool) and declared != count:
            problems.append(
                Problem.warning(
                    f"metadata.{key} is {declared} but "
                    + says.format(n=count, s="" if count == 1 else "s"),
                    f"$.metadata.{key}",
                )
            )
    # Cheap checks only (no file is read): content is checked when the gallery is built.
    problems.extend(refusal_problems(check_paths(source, ctx.allowed_roots, ctx.session_dir)))
    return problems


@hookimpl
def flywheel_generate(session: Session, ctx: RunContext) -> list[Artifact] | None:
    if session.session_type != SESSION_TYPE:
        return None
    from flywheel_aria.generate import generate_artifacts

    return generate_artifacts(session, ctx)
