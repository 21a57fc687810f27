"""Every hook a flywheel plugin can implement, in the order the pipeline calls them.

Plugins implement hooks with ``from flywheel_core import hookimpl``. A hook implementation may
accept any subset of a spec's arguments (pluggy passes only those it names), so specs gain
arguments over time without breaking plugins; names are never changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import typer

    from flywheel_core.config import Config
    from flywheel_core.context import PublishContext, RunContext
    from flywheel_core.models import Session
    from flywheel_core.types import Artifact, Problem, PublishItem, PublishResult, SessionType, Target

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("flywheel")
hookimpl = pluggy.HookimplMarker("flywheel")


# ---------------------------------------------------------------------------
# Registration: what a plugin owns. Called once, when plugins are loaded.
# ---------------------------------------------------------------------------


@hookspec
def flywheel_session_types() -> list[SessionType]:
    """Register the session types this plugin owns.

    Called once after plugins load. Return a list of :class:`~flywheel_core.SessionType`
    (name, description, JSON Schema fragment, artifact kinds). Two plugins registering the
    same name is an error that names both distributions.
    """


@hookspec
def flywheel_targets() -> list[Target]:
    """Register the publication targets this plugin owns.

    Called once after plugins load. Return a list of :class:`~flywheel_core.Target` (name,
    description, JSON Schema of its ``[targets.<name>]`` config table). Names are unique.
    """


@hookspec
def flywheel_template_dirs() -> list[Path]:
    """Return folders holding this plugin's packaged Jinja2 templates.

    Called when the renderer is first built. The user's ``templates_dir`` is searched before
    every plugin folder, so a user overrides a packaged template by putting a file with the
    same name (e.g. ``build/readme.md.j2``) there.
    """


@hookspec
def flywheel_config_schema() -> dict[str, Any]:
    """Return the JSON Schema of this plugin's ``[plugins.<name>]`` config table.

    ``<name>`` is the plugin's entry point name. Core validates the table against it before
    any pipeline hook runs and resolves ``{"$env": "NAME"}`` values from the environment, so
    plugins never read secrets themselves. Return None when the plugin takes no config.
    """


@hookspec
def flywheel_register_commands(cli: typer.Typer, collect: typer.Typer) -> None:
    """Add commands to the ``flywheel`` CLI.

    Called once when the CLI starts. ``cli`` is the top-level app (add a group such as
    ``site`` with ``cli.add_typer``); ``collect`` is the ``flywheel collect`` group, where a
    session-type plugin adds ``flywheel collect <type>``. Import heavy modules inside the
    command bodies, not at module level: ``flywheel --help`` loads every plugin.
    """


# ---------------------------------------------------------------------------
# Collecting a new session from its sources: `flywheel collect`, `flywheel end`.
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def flywheel_collect_session(session_type: str, options: dict[str, Any], ctx: RunContext) -> dict[str, Any] | None:
    """Return a new session document (a dict) of a session type this plugin owns, read from its sources.

    Called by ``flywheel collect <type>``, ``flywheel end`` and ``flywheel_core.end_session``
    on the plugin owning ``session_type`` only (return None for any other type). Raise
    :class:`~flywheel_core.UsageError` for bad or missing options (exit 2), and
    :class:`~flywheel_core.NothingToCollect` when the sources hold nothing in the window asked
    for (``flywheel end`` then says "nothing new" and exits 0). Give the same document for the
    same sources: the ``session_id`` is a function of what was collected, so ending a session
    twice is recognised. Report warnings with ``ctx.warn(message)``, informational lines with
    ``ctx.note(message)``; print nothing.

    :param session_type: the type asked for, e.g. ``build``.
    :param options: what the user asked for, by name (absent or None when not given). Core
        fills these for every type: ``agent_id``, ``title``, ``summary``, ``highlights``,
        ``lessons``, ``next_steps`` (lists of text), ``since`` (ISO 8601, or what the user
        typed), ``started_at`` (ISO 8601, when a ``flywheel start`` is open), ``refs_before``
        and ``refs_now`` (``{"head": sha, "branches": {"refs/heads/main": sha}}``: the
        repository when the session began or last ended, and just before collecting),
        ``last_session_file`` (the session file the previous ``flywheel end`` of this type
        here wrote) and ``repo`` (the folder ``--repo`` named). Other keys are the type's own (``csv``,
        ``notes``...), documented by its plugin; ignore keys you do not know.
    :param ctx: a run context whose ``session_path`` is where the document will be written
        (relative paths in it resolve against ``ctx.session_dir``), or None for stdout.
    """


# ---------------------------------------------------------------------------
# Pipeline, in order: collect -> validate -> generate -> publish.
# ---------------------------------------------------------------------------


@hookspec
def flywheel_collect(session: Session, ctx: RunContext) -> None:
    """Enrich a session with data gathered from its sources before anything is generated.

    Called by ``flywheel run`` for every session that passed schema validation, in every
    plugin; a plugin acts only on the session types it owns (e.g. the build plugin reads the
    commits of the session's window from ``repo_path``). Mutate ``session`` in place; what is
    added is written back to the session file. Report anything noteworthy with
    ``ctx.warn(message, path)``. Return None.

    :param session: the session being run (unknown fields are kept; do not drop them).
    :param ctx: the run context: config, output folder, renderer, warnings.
    """


@hookspec
def flywheel_validate(session: Session, ctx: RunContext) -> list[Problem] | None:
    """Return problems the JSON Schema cannot express, for the session types this plugin knows.

    Called by ``flywheel validate`` (after the schema check) and by ``flywheel run`` (after
    collect), in every plugin. Return :class:`~flywheel_core.Problem` objects: errors stop
    the run with exit code 2; warnings (e.g. declared totals that disagree with the data) are
    printed. Return None or an empty list when there is nothing to say.

    :param session: the session to check.
    :param ctx: the run context.
    """


@hookspec
def flywheel_generate(session: Session, ctx: RunContext) -> list[Artifact] | None:
    """Return the artifacts this plugin makes from a session.

    Called by ``flywheel run`` in every plugin: the plugin that owns the session type returns
    its artifacts, and a custom generator plugin may add more for any type. Core writes each
    artifact under ``<out>/<session_type>/<session_id>/`` and records it in the session. Two
    plugins returning the same kind is an error. Content must be a pure function of the
    session (no generation time), so a re-run gives byte-identical files. Render templates
    with ``ctx.render(name, **context)``.

    :param session: the (collected, validated) session.
    :param ctx: the run context.
    """


@hookspec(firstresult=True)
def flywheel_publish(
    target: str, items: list[PublishItem], config: dict[str, Any], ctx: PublishContext
) -> list[PublishResult] | None:
    """Publish a batch of due queue items to the target this plugin owns.

    Called by ``flywheel publish`` once per target with every item due for it. Return None
    when ``target`` is not yours. Otherwise return one :class:`~flywheel_core.PublishResult`
    per item: ``ok=True`` only once the target has confirmed (a commit id, a URL) and with
    that receipt; ``ok=False`` with an error for an item that failed (``permanent=True`` when
    no retry can help, ``retry_after=seconds`` for a rate limit). Raising fails the whole
    batch; it is retried with backoff. Publishing content that is already there must succeed
    without a duplicate. A target publishing an item in several steps calls
    ``ctx.checkpoint(item, progress)`` after each confirmed step and resumes from
    ``item.progress`` on the next attempt.

    :param target: the target name, e.g. ``github``.
    :param items: the due items, each with its files and metadata.
    :param config: the ``[targets.<name>]`` table, validated, secrets resolved.
    :param ctx: the publish context: state folder, dry-run flag, logger.
    """


@hookspec(firstresult=True)
def flywheel_page_url(session: Session, kind: str, title: str, config: Config) -> str | None:
    """Return the URL the published page of one of a session's artifacts will have.

    Called when a generator asks ``ctx.page_url(session, kind, title)``, before anything is
    published: a social post links to the session's blog post this way. The plugin owning a
    website target answers when that target is configured and enabled and shows ``kind`` on a
    page of its own; otherwise return None (the first answer wins). The URL must be exactly the
    one the target then reports for that artifact: a pure function of the arguments, never of
    what was published before.

    :param session: the session the artifact is made from.
    :param kind: the artifact kind whose page is wanted, e.g. ``blog_post``.
    :param title: the title the artifact will carry (its ``Artifact.title``); addresses may include it.
    :param config: the loaded config (``config.targets`` holds each target's table).
    """
