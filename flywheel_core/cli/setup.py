"""``flywheel plugins``, ``flywheel init`` and ``flywheel config``: what is installed, a starting config, the one in effect."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from flywheel_core.cli.options import ConfigOpt, JsonOpt
from flywheel_core.errors import UsageError

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.plugins import PluginHost

__all__ = ["effective_settings", "gitignore_entries", "init_text", "schema_section", "toml_value"]

# Compiled on first use, not at import (issue 18: start-up): most commands need none of these.
_re = functools.cache(re.compile)
#: Keys whose plain-text value is a secret: masked by `flywheel config` (an ``$env`` value always is).
SECRET_KEY_RE = r"(?i)token|password|secret|api_?key|credential"
_BARE_KEY_RE = r"^[A-Za-z0-9_-]+$"


def plugins(json_out: JsonOpt = False) -> None:
    """List installed plugins: distribution, version, hooks, session types and targets."""
    import dataclasses

    from flywheel_core.plugins import KNOWN_SESSION_TYPES, KNOWN_TARGETS, get_host

    host = get_host()
    host.session_types, host.targets  # fill in what each plugin registers
    infos = list(host.infos.values())
    if json_out:
        print(json.dumps([dataclasses.asdict(i) for i in infos], indent=2))
        return
    if not infos:
        dists = sorted(set(KNOWN_SESSION_TYPES.values()) | set(KNOWN_TARGETS.values()))
        print("No plugins are installed. Install one of: " + ", ".join(dists))
        return
    for info in infos:
        print(f"{info.name}: {info.distribution} {info.version}")
        if info.session_types:
            print(f"  session types: {', '.join(info.session_types)}")
        if info.targets:
            print(f"  targets:       {', '.join(info.targets)}")
        print(f"  hooks:         {', '.join(info.hooks)}")
    for failure in host.failures:
        print(f"{failure.name}: {failure.distribution} FAILED TO LOAD: {failure.error}")


# -- TOML text ----------------------------------------------------------------------------


def toml_key(key: str) -> str:
    return key if _re(_BARE_KEY_RE).match(key) else json.dumps(key)


def toml_value(value: Any) -> str:
    """``value`` as a TOML literal (JSON's string escapes are TOML's basic-string escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _example(key: str, prop: dict[str, Any], where: str) -> Any:
    """A value to show for a schema property: its default, an example, else one of its type."""
    if "default" in prop:
        return prop["default"]
    if prop.get("examples"):
        return prop["examples"][0]
    if prop.get("enum"):
        return prop["enum"][0]
    kind = prop.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "string" and _re(SECRET_KEY_RE).search(key):
        return {"$env": re.sub(r"\W", "_", f"{where}_{key}").upper()}
    return {"boolean": False, "integer": prop.get("minimum", 0), "number": prop.get("minimum", 0),
            "array": [], "object": {}}.get(kind, "")


def schema_section(header: str, schema: dict[str, Any], note: str) -> list[str]:
    """Commented-out ``[header]`` table: every property of ``schema`` with a value (its default
    where the schema has one) and its description; required ones say so."""
    lines = [f"# {f'[{header}]':<38} # {note}" if note else f"# [{header}]"]
    nested = []
    where = header.split(".")[-1]
    required = set(schema.get("required") or ())
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("type") == "object" and prop.get("properties"):
            nested.append((key, prop))
            continue
        setting = f"{toml_key(key)} = {toml_value(_example(key, prop, where))}"
        text = " ".join(["(required)"] * (key in required) + str(prop.get("description", "")).split())
        lines.append(f"# {setting:<38} # {text}" if text else f"# {setting}")
    for key, prop in nested:
        lines += ["#", *schema_section(f"{header}.{toml_key(key)}", prop, " ".join(str(prop.get("description", "")).split()))]
    return lines


def init_text(host: PluginHost) -> str:
    """The packaged template, plus a generated section for each installed target and plugin setting it does not describe."""
    from importlib.resources import files

    text = files("flywheel_core").joinpath("templates/flywheel.toml").read_text("utf-8")
    extra: list[str] = []
    for name, (plugin, target) in sorted(host.targets.items()):
        if f"# [targets.{name}]" not in text and target.config_schema:
            note = f"{host.describe(plugin)}: {target.description}".strip(": ")
            extra += ["#", *schema_section(f"targets.{toml_key(name)}", target.config_schema, note)]
    for name, schema in sorted(host.config_schemas().items()):
        if f"# [plugins.{name}]" not in text:
            extra += ["#", *schema_section(f"plugins.{toml_key(name)}", schema, host.describe(name))]
    if extra:
        text += "\n# Installed plugins the text above does not describe (generated from their schemas):\n"
        text += "\n".join(extra[1:]) + "\n"
    return text


# -- flywheel init ------------------------------------------------------------------------


def gitignore_entries(config: Config) -> tuple[Path, list[str]] | None:
    """``(repository root, lines)``: what the repository around ``config`` should ignore and does not yet.

    The output, state and sessions folders (anchored at the root, when inside it) and session
    files (``*session.json``: they record private work and change on every run). None outside a
    repository. Lines git already ignores are left out (``git check-ignore``).
    """
    from flywheel_core.config import repository_root

    root = repository_root(config.base_dir)
    if root is None:
        return None
    wanted: list[tuple[str, Path]] = []
    for folder in (config.out_dir, config.state_dir, config.sessions_dir):
        if folder != root and folder.is_relative_to(root):
            wanted.append((f"/{folder.relative_to(root).as_posix()}/", folder / "flywheel-probe"))
    wanted.append(("*session.json", config.base_dir / "work_session.json"))
    probes = [str(probe.relative_to(root)) for _, probe in wanted]
    from flywheel_core.tracking import GIT_TIMEOUT

    try:  # the deadline: a repository's config can include a FIFO, and git would wait on it for ever
        done = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "--no-index", "--", *probes],
            capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"{root}: git did not answer within {GIT_TIMEOUT:g} s: does the repository's config "
                         "(an [include] path) or a .gitignore name a FIFO or a device?") from None
    ignored = set(done.stdout.splitlines()) if done.returncode in (0, 1) else set()
    return root, [line for (line, _), probe in zip(wanted, probes) if probe not in ignored]


def _refuse_special_gitignore(folder: Path) -> None:
    """UsageError (exit 2) when the repository's .gitignore is a FIFO or a device, before anything
    is written: reading it (git check-ignore, or flywheel appending to it) would wait for ever, and
    skipping it would leave flywheel's state and session files unignored without a word."""
    from flywheel_core.config import repository_root
    from flywheel_core.fsutil import PathRefused, refuse_special

    root = repository_root(folder)
    if root is None:
        return
    try:
        refuse_special(root / ".gitignore", "git and flywheel would wait on it for ever; make it a regular file")
    except PathRefused as exc:
        raise UsageError(str(exc)) from None


def _append_gitignore(root: Path, lines: list[str]) -> Path:
    from flywheel_core.fsutil import atomic_write

    from flywheel_core.fsutil import PathRefused, read_regular_file

    path = root / ".gitignore"
    try:  # never blocks: a FIFO put there since the check in init is refused, not waited on
        old = read_regular_file(path, 16 * 1024 * 1024).decode("utf-8")
    except FileNotFoundError:
        old = ""
    except PathRefused as exc:
        raise UsageError(f"{path}: {exc}") from None
    if old and not old.endswith("\n"):
        old += "\n"
    block = "# flywheel: generated artifacts, its state (the publication queue) and session records\n"
    atomic_write(path, old + ("\n" if old else "") + block + "".join(f"{line}\n" for line in lines))
    return path


def init(
    directory: Annotated[Optional[Path], typer.Argument(help="Folder to write flywheel.toml in.", file_okay=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing flywheel.toml.")] = False,
    gitignore: Annotated[
        bool, typer.Option("--gitignore", help="Also add flywheel's output, state and session files to the repository's .gitignore.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write a commented flywheel.toml listing every setting, with working defaults.

    Installed plugins that the template does not describe get a section generated from their
    schemas. Inside a git repository, prints what .gitignore should add (--gitignore adds it);
    with --gitignore an existing flywheel.toml is kept as it is.
    """
    from flywheel_core.config import load_config
    from flywheel_core.fsutil import atomic_write
    from flywheel_core.plugins import get_host

    folder = (directory or Path.cwd()).resolve()
    target = folder / "flywheel.toml"
    exists = target.exists()
    if exists and not (force or gitignore):
        raise UsageError(f"{target} already exists (use --force to overwrite, or --gitignore to only update .gitignore)")
    write = force or not exists
    _refuse_special_gitignore(folder)
    if write:
        atomic_write(target, init_text(get_host()))
    found = gitignore_entries(load_config(target))
    ignore: dict[str, Any] | None = None
    if found is not None:
        root, lines = found
        ignore = {"path": str(root / ".gitignore"), "lines": lines, "written": bool(gitignore and lines)}
        if ignore["written"]:
            _append_gitignore(root, lines)
    if json_out:
        print(json.dumps({"config": str(target), "written": write, "repository": str(found[0]) if found else None,
                          "gitignore": ignore}, indent=2))
        return
    print(f"{'wrote' if write else 'kept'} {target}")
    if ignore is None or not ignore["lines"]:
        return
    if ignore["written"]:
        print(f"added to {ignore['path']}: {', '.join(ignore['lines'])}")
    else:
        print(f"{found[0]} is a git repository: so that flywheel's output, its state and session files are not "
              f"committed, add these lines to {ignore['path']} (or run `flywheel init --gitignore`):")
        for line in ignore["lines"]:
            print(f"  {line}")


# -- flywheel config ----------------------------------------------------------------------


def _mask(value: Any, key: str = "") -> Any:
    """A copy of a config value fit to print: ``$env`` values say whether they are set, plain secrets are ``***``."""
    import os

    if isinstance(value, dict):
        if set(value) == {"$env"}:
            return {"$env": value["$env"], "set": bool(os.environ.get(str(value["$env"])))}
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str) and value and _re(SECRET_KEY_RE).search(key):
        return "***"
    return value


def _defaults(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and "default" in prop:
            out[key] = prop["default"]
        elif isinstance(prop, dict) and prop.get("type") == "object" and _defaults(prop):
            out[key] = _defaults(prop)
    return out


def _merge(defaults: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    out = {**defaults, **table}
    for key, value in defaults.items():
        if isinstance(value, dict) and isinstance(table.get(key), dict) and set(table[key]) != {"$env"}:
            out[key] = _merge(value, table[key])
    return out


def effective_settings(config: Config, host: PluginHost) -> dict[str, Any]:
    """Every setting in effect: core keys with defaults and absolute paths, each configured
    target's and plugin's table over its schema's defaults; secrets masked (see :func:`_mask`)."""
    from flywheel_core.config import TARGET_COMMON_SCHEMA

    out: dict[str, Any] = {
        **{k: v for k, v in config.data.items() if k not in ("targets", "plugins")},
        "out_dir": str(config.out_dir),
        "state_dir": str(config.state_dir),
        "sessions_dir": str(config.sessions_dir),
        "max_input_bytes": config.max_input_bytes,
        "media_roots": [str(p) for p in config.media_roots],
        "queue": config.queue,
        "scan": {"allowlist": str(config.allowlist_path)},
    }
    if config.templates_dir is not None:
        out["templates_dir"] = str(config.templates_dir)
    targets: dict[str, Any] = {}
    for name, table in config.targets.items():
        found = host.targets.get(name)
        defaults = _defaults(found[1].config_schema) if found else {}
        targets[name] = _merge({**_defaults(TARGET_COMMON_SCHEMA), **defaults}, table)
    plugin_tables = config.data.get("plugins", {})
    schemas = host.config_schemas()
    plugins: dict[str, Any] = {}
    for name in sorted(set(plugin_tables) | set(schemas)):
        merged = _merge(_defaults(schemas.get(name, {})), plugin_tables.get(name, {}))
        if merged:
            plugins[name] = merged
    out["targets"], out["plugins"] = targets, plugins
    return _mask(out)


def _toml_lines(table: dict[str, Any], header: str = "") -> list[str]:
    """A table as TOML: its values, then each sub-table under its own ``[header]``."""
    lines, tables = [], []
    for key, value in table.items():
        if isinstance(value, dict) and "$env" in value:
            state = "set" if value["set"] else "NOT SET"
            lines.append(f"{toml_key(key)} = {toml_value({'$env': value['$env']})}  # {value['$env']} is {state}")
        elif isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    if header and (lines or not tables):
        lines = ["", f"[{header}]", *lines]
    for key, value in tables:
        lines += _toml_lines(value, f"{header}.{toml_key(key)}" if header else toml_key(key))
    return lines


def _describe_source(config: Config, cwd: Path) -> str:
    from flywheel_core.config import repository_root, user_config_path

    root = repository_root(cwd)
    where = (f"from {cwd} up to the repository root {root}" if root else f"in {cwd} (not in a git repository)")
    return {
        "--config": f"{config.source} (named by --config)",
        "FLYWHEEL_CONFIG": f"{config.source} (named by FLYWHEEL_CONFIG)",
        "nearest project file": f"{config.source} (the nearest one, looking {where})",
        "user config": f"{config.source} (your user config; no project file {where})",
    }.get(config.found_by, f"none (no flywheel.toml or [tool.flywheel] {where}, no {user_config_path()}): defaults")


def config_cmd(config: ConfigOpt = None, json_out: JsonOpt = False) -> None:
    """Show which config file applies from here, how it was found, and every setting in effect.

    Looked for in order: --config, FLYWHEEL_CONFIG, flywheel.toml or [tool.flywheel] in
    pyproject.toml here or in a parent folder up to the repository root, then the user config.
    Secrets are masked: {"$env" = "NAME"} shows whether NAME is set, never its value.
    """
    from flywheel_core.config import load_config
    from flywheel_core.plugins import get_host

    cfg = load_config(config)
    settings = effective_settings(cfg, get_host())
    if json_out:
        print(json.dumps({"file": None if cfg.found_by == "defaults" else cfg.source, "found_by": cfg.found_by,
                          "base_dir": str(cfg.base_dir), "settings": settings}, indent=2, ensure_ascii=False))
        return
    print(f"# config file: {_describe_source(cfg, Path.cwd().resolve())}")
    print(f"# relative paths resolve against {cfg.base_dir}")
    print("\n".join(_toml_lines(settings)))
