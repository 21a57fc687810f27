"""The build plugin's hooks: session type, templates, config, ``flywheel collect build``, collecting a session, collect, validate, generate.

Module-level imports stay light (``flywheel --help`` imports every plugin): the work happens
in sibling modules imported inside each hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_core import hookimpl

if TYPE_CHECKING:
    import typer

    from flywheel_core import Artifact, Problem, RunContext, Session, SessionType

__all__ = [
    "flywheel_session_types",
    "flywheel_template_dirs",
    "flywheel_config_schema",
    "flywheel_register_commands",
    "flywheel_collect_session",
    "flywheel_collect",
    "flywheel_validate",
    "flywheel_generate",
]

ARTIFACTS = ("readme", "build_log", "blog_post", "social_post")
#: ``flywheel collect build``'s line in listings: the first paragraph of its docstring (a test keeps them the same).
COLLECT_HELP = "Collect the commits of a range into a build session (stdout, or -o FILE)."


@hookimpl
def flywheel_session_types() -> list[SessionType]:
    from flywheel_core import SessionType

    from flywheel_build.schema import BUILD_SCHEMA

    return [
        SessionType(
            "build",
            "A coding session on a git repository: README, build log, blog post and social posts.",
            schema=BUILD_SCHEMA,
            artifacts=ARTIFACTS,
        )
    ]


@hookimpl
def flywheel_template_dirs() -> list[Path]:
    return [Path(__file__).resolve().parent / "templates"]


@hookimpl
def flywheel_config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "repo_roots": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Folders (relative to the config file) whose repositories a session's "
                "repo_path may name, besides the session's own folder and media_roots.",
            }
        },
        "additionalProperties": False,
    }


@hookimpl
def flywheel_register_commands(cli: typer.Typer, collect: typer.Typer) -> None:
    from flywheel_core import lazy_command

    lazy_command(collect, "flywheel_build.cli:collect_build", name="build", help=COLLECT_HELP)


@hookimpl
def flywheel_collect_session(session_type: str, options: dict[str, Any], ctx: RunContext) -> dict[str, Any] | None:
    if session_type != "build":
        return None
    from flywheel_build.options import collect_from_options

    return collect_from_options(options, ctx)


@hookimpl
def flywheel_collect(session: Session, ctx: RunContext) -> None:
    if session.session_type != "build":
        return
    from flywheel_build.collect import enrich_session

    enrich_session(session, ctx)


@hookimpl
def flywheel_validate(session: Session, ctx: RunContext) -> list[Problem] | None:
    if session.session_type != "build":
        return None
    from flywheel_build.checks import check_session

    return check_session(session)


@hookimpl
def flywheel_generate(session: Session, ctx: RunContext) -> list[Artifact] | None:
    if session.session_type != "build":
        return None
    from flywheel_build.collect import locate_repo
    from flywheel_build.generate import generate_artifacts

    repo, _ = locate_repo(session, ctx)  # the collect hook already warned about a missing repo
    return generate_artifacts(session, ctx, repo)
