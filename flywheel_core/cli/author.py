"""Plugin author commands: ``flywheel new-plugin``, ``flywheel context``, ``flywheel render`` (issue 8)."""

from __future__ import annotations

import functools
import json
import re
import shutil
import sys
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from flywheel_core.cli.options import ConfigOpt, JsonOpt
from flywheel_core.errors import UsageError

__all__ = ["KINDS", "new_plugin_project", "template_contexts", "to_jsonable"]

KINDS = ("generator", "session-type", "target")
# Compiled on first use, not at import (issue 18: start-up): most commands need none of these.
_re = functools.cache(re.compile)
PLUGIN_NAME_RE = r"^[a-z][a-z0-9_]*$"
TEMPLATE_ROOT = Path(__file__).resolve().parent.parent / "plugin_template"
#: Path segments in the template folder replaced by the project's names.
_PATH_TOKENS = ("PACKAGE", "SESSION_TYPE", "ARTIFACT")

SessionArg = Annotated[Path, typer.Argument(help="A session file (work_session.json).", dir_okay=False)]
KindOpt = Annotated[
    Optional[str], typer.Option("--kind", "-k", help="Only templates of this artifact kind (e.g. readme).")
]


# -- flywheel new-plugin ---------------------------------------------------------------


def _installed_as(name: str, dist: str) -> str | None:
    """The installed distribution ``flywheel new-plugin NAME`` would clash with, if any."""
    from importlib.metadata import PackageNotFoundError, distribution, entry_points

    try:
        return distribution(dist).metadata["Name"] or dist
    except PackageNotFoundError:
        pass
    for ep in entry_points(group="flywheel"):
        if ep.name == name:
            return ep.dist.name if ep.dist is not None else f"plugin {name!r}"
    return None


def new_plugin_project(name: str, directory: Path, kind: str = "generator", session_type: str | None = None) -> Path:
    """Render the plugin template into ``directory/flywheel-<name>/`` and return that folder."""
    import jinja2

    from flywheel_core import __version__

    if not _re(PLUGIN_NAME_RE).match(name) or len(name) > 64:
        raise UsageError(f"plugin name {name!r} must match {PLUGIN_NAME_RE} (at most 64 characters)")
    if name == "core":
        raise UsageError("plugin name 'core' is taken by flywheel-core itself")
    if kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "target" and session_type is not None:
        raise UsageError("--session-type does not apply to --kind target")
    session_type = session_type or ("build" if kind == "generator" else name)
    if not _re(PLUGIN_NAME_RE).match(session_type) or len(session_type) > 64:
        raise UsageError(f"session type {session_type!r} must match {PLUGIN_NAME_RE}")
    dist = "flywheel-" + name.replace("_", "-")
    taken = _installed_as(name, dist)
    if taken:
        # `pip install -e .` of a project named like an installed one replaces it: `new-plugin
        # build` would have uninstalled flywheel-build.
        raise UsageError(f"plugin name {name!r} is taken by the installed {taken}; choose another name")
    project = directory / dist
    if project.exists():
        raise UsageError(f"{project} already exists; not overwriting it")
    words = name.replace("_", " ")
    artifact = {"generator": name, "session-type": "summary", "target": ""}[kind]
    description = {
        "generator": f"A flywheel plugin that adds a `{artifact}` artifact to {session_type} sessions.",
        "session-type": f"A flywheel plugin for `{session_type}` sessions.",
        "target": f"A flywheel publication target that copies artifacts into a folder ({name}).",
    }[kind]
    variables = {
        "name": name,
        "dist": dist,
        "package": f"flywheel_{name}",
        "kind": kind,
        "session_type": session_type,
        "artifact": artifact,
        "title": words[:1].upper() + words[1:],
        "description": description,
        "core_requirement": "flywheel-core>=" + ".".join(__version__.split(".")[:2]),
        "has_templates": kind != "target",
    }
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_ROOT)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    values = {"PACKAGE": variables["package"], "SESSION_TYPE": session_type, "ARTIFACT": artifact}
    files: dict[Path, str] = {}
    for layer in ("common", kind):
        for source in sorted((TEMPLATE_ROOT / layer).rglob("*.j2")):
            name_in_layer = source.relative_to(TEMPLATE_ROOT / layer)
            target = Path(*(_fill(part, values) for part in name_in_layer.with_suffix("").parts))  # one ".j2" off
            files[target] = env.get_template(f"{layer}/{name_in_layer.as_posix()}").render(variables)
    # Write into a hidden sibling, then rename: never a half-made project, never an overwrite.
    staging = directory / f".{dist}.partial"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        for relative, text in files.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_text(text, encoding="utf-8")
        staging.rename(project)  # fails if a non-empty folder appeared there meanwhile
    except OSError as exc:
        if project.exists():
            raise UsageError(f"{project} already exists; not overwriting it") from None
        raise UsageError(f"{project}: cannot create the project: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return project


def _fill(part: str, values: dict[str, str]) -> str:
    for token in _PATH_TOKENS:
        part = part.replace(token, values[token])
    return part


def new_plugin(
    name: Annotated[str, typer.Argument(help="Plugin name: lower case, digits and _ (e.g. changelog_md).")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to create flywheel-<name>/.", file_okay=False)] = Path("."),
    kind: Annotated[str, typer.Option("--kind", help="generator, session-type or target.")] = "generator",
    session_type: Annotated[
        Optional[str],
        typer.Option("--session-type", help="Session type the artifact is for (default: build; NAME for --kind session-type)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a complete, installable plugin project whose own tests pass as generated.

    generator: adds an artifact to a session type; session-type: a new session type with its
    schema, checks and artifact; target: a publication target that copies artifacts to a folder.
    """
    project = new_plugin_project(name, directory, kind, session_type)
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    if json_out:
        print(json.dumps({"project": str(project), "kind": kind, "name": name, "files": files}, indent=2))
        return
    print(f"created {project}/ ({kind} plugin {name!r}):")
    for path in files:
        print(f"  {path}")
    print(f'next: cd {project} && pip install -e ".[test]" && pytest')


# -- flywheel context / flywheel render ------------------------------------------------


def template_contexts(
    session_path: Path, config_path: Path | None = None
) -> tuple[Any, Any, dict[str, list[tuple[str, dict[str, Any]]]], bool]:
    """Run collect, validate and generate dry for one session; return (config, host, contexts, ok).

    ``contexts`` maps an artifact kind (a template's file name before its first dot) to the
    ``(template name, context)`` pairs rendered for it, in order; ``ok`` is False when a plugin
    failed (its errors are printed). Nothing is written.
    """
    from flywheel_core.config import check_plugin_configs, load_config
    from flywheel_core.context import RunContext
    from flywheel_core.pipeline import load_for_run, generate
    from flywheel_core.plugins import get_host

    config, host = load_config(config_path), get_host()
    check_plugin_configs(config, host)
    session, result = load_for_run(session_path, config, host)
    rendered: list[tuple[str, dict[str, Any]]] = []
    if session is not None:
        ctx = RunContext(
            config=config,
            host=host,
            session_path=session_path,
            artifact_dir=config.out_dir / session.session_type / session.session_id,
            dry_run=True,
        )
        generate(session, ctx, result)
        result.problems.extend(ctx.problems)
        rendered = ctx.rendered
    for problem in result.problems:
        print(problem.format(str(session_path)), file=sys.stderr)
    for error in result.errors:  # a failing plugin: show what did render, and say why the rest did not
        print(f"{session_path}: error: {error}", file=sys.stderr)
    if session is None or any(p.severity == "error" for p in result.problems):
        raise typer.Exit(2)
    contexts: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for template, context in rendered:
        contexts.setdefault(Path(template).name.split(".")[0], []).append((template, context))
    return config, host, contexts, not result.errors


def _select(contexts: dict[str, list], kind: str | None) -> dict[str, list]:
    if kind is None:
        return contexts
    if kind not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise UsageError(f"no template of kind {kind!r} was rendered for this session (rendered: {known})")
    return {kind: contexts[kind]}


def to_jsonable(value: Any) -> Any:
    """What a template sees, as JSON: attrs/dataclass objects as their fields and properties, dates as ISO text."""
    import dataclasses

    import attrs

    fields = None
    if attrs.has(type(value)):
        fields = [f.name for f in attrs.fields(type(value)) if f.repr]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f.name for f in dataclasses.fields(value) if f.repr]
    if fields is not None:
        out = {name: to_jsonable(getattr(value, name)) for name in fields}
        for name in dir(type(value)):
            if not name.startswith("_") and isinstance(getattr(type(value), name), property):
                try:
                    out[name] = to_jsonable(getattr(value, name))
                except Exception:  # a property that cannot be computed is simply not shown
                    continue
        return out
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def context(session: SessionArg, kind: KindOpt = None, config: ConfigOpt = None) -> None:
    """Print, as JSON, the exact context each template receives for a session.

    Runs collect, validate and generate without writing anything. The output maps each
    artifact kind to a list of {"template": name, "context": {...}}; --kind keeps one kind.
    Exit 1 when a plugin failed (what did render is still printed), 2 for an invalid session.
    """
    _, _, contexts, ok = template_contexts(session, config)
    data = {
        k: [{"template": t, "context": to_jsonable(c)} for t, c in pairs] for k, pairs in _select(contexts, kind).items()
    }
    print(json.dumps(data, indent=2, ensure_ascii=False))
    if not ok:
        raise typer.Exit(1)  # what did render is shown; a failing plugin still fails the command


def render(
    session: SessionArg,
    template: Annotated[Path, typer.Option("--template", "-t", help="Your Jinja2 template file.", dir_okay=False)],
    kind: Annotated[
        Optional[str], typer.Option("--kind", "-k", help="Use the context of this artifact kind's template.")
    ] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.", dir_okay=False)] = None,
    config: ConfigOpt = None,
) -> None:
    """Render your own template against the context a packaged template gets for a session.

    The kind defaults to the only one rendered, else to your file's name before its first
    dot (readme.md.j2 -> readme). Files named *.html or *.htm (optionally + .j2) are autoescaped.
    """
    from flywheel_core.render import TemplateError, _is_html, get_renderer

    from flywheel_core.fsutil import PathRefused, read_regular_file

    try:  # never blocks on a FIFO named on the command line
        source = read_regular_file(template, 16 * 1024 * 1024).decode("utf-8")
    except (OSError, UnicodeDecodeError, PathRefused) as exc:
        raise UsageError(f"{template}: cannot read the template: {exc}") from None
    cfg, host, contexts, _ = template_contexts(session, config)
    if kind is None:
        guess = template.name.split(".")[0]
        if len(contexts) == 1:
            kind = next(iter(contexts))
        elif guess in contexts:
            kind = guess
        else:
            known = ", ".join(sorted(contexts)) or "none"
            raise UsageError(f"choose the context with --kind (rendered for this session: {known})")
    [(_, values), *_] = _select(contexts, kind)[kind]
    try:
        text = get_renderer(cfg, host).render_string(source, html=_is_html(template.name), **values)
    except TemplateError as exc:
        raise UsageError(f"{template}: {exc}") from None
    if output is None:
        sys.stdout.write(text)
    else:
        from flywheel_core.fsutil import atomic_write

        atomic_write(output, text)
        print(f"wrote {output}", file=sys.stderr)
