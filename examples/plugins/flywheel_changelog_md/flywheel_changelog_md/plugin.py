"""Hook implementations of flywheel-changelog-md: a `changelog` artifact for build sessions."""

from __future__ import annotations

from pathlib import Path

from flywheel_core import Artifact, UsageError, hookimpl

from flywheel_changelog_md.changelog import insert_entry, sections_of

NAME = "changelog_md"  # the entry point name, so the config table is [plugins.changelog_md]
TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_HEADING = "[Unreleased] - {date}"

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "changelog": {
            "type": "string",
            "minLength": 1,
            "description": "CHANGELOG.md to insert entries into, relative to the config file's folder.",
        },
        "heading": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "Entry heading; {date} and {session_id} are filled in.",
        },
    },
    "additionalProperties": False,
}


@hookimpl
def flywheel_config_schema():
    return CONFIG_SCHEMA


@hookimpl
def flywheel_template_dirs():
    return [TEMPLATES]


@hookimpl
def flywheel_generate(session, ctx):
    if session.session_type != "build":
        return None
    sections = sections_of(session.source_data.get("git_commits"))
    if not sections:
        return None  # no user-facing change: no entry rather than an empty one
    config = ctx.plugin_config(NAME)
    heading = (
        config.get("heading", DEFAULT_HEADING).replace("{date}", session.date).replace("{session_id}", session.session_id)
    )
    entry = ctx.render("build/changelog.md.j2", heading=heading, sections=sections, session=session)
    if config.get("changelog") and not ctx.dry_run:
        _update_changelog(config["changelog"], session.session_id, entry, ctx)
    counts = ", ".join(f"{len(changes)} {name.lower()}" for name, changes in sections)
    return [
        Artifact(
            "changelog",
            entry,
            title=f"Changelog entry for {session.date}",
            summary=f"Changes: {counts}.",
            tags=["changelog"],
            meta={"provenance": {"commits": [c["hash"] for _, cs in sections for c in cs if c["hash"]]}},
        )
    ]


def _update_changelog(name: str, session_id: str, entry: str, ctx) -> None:
    """Put the entry in the user's CHANGELOG.md, which must lie in the config file's folder."""
    from flywheel_core import PathRefused, atomic_write, confine, lock_for

    where = f"{ctx.config.source}: plugins.{NAME}.changelog"
    try:
        path = confine(name, [ctx.config.base_dir])
    except PathRefused as exc:
        raise UsageError(f"{where}: {exc}") from None
    with lock_for(path):  # two runs at once must not lose each other's entry
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            raise UsageError(f"{where}: {path} is not a file") from None
        try:
            updated = insert_entry(text, session_id, entry)
        except ValueError as exc:
            raise UsageError(f"{where}: {path} {exc}") from None
        if updated != text:
            atomic_write(path, updated)
