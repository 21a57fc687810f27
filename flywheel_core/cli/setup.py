"""``flywheel plugins`` and ``flywheel init``: what is installed, and a starting config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from flywheel_core.cli.options import JsonOpt
from flywheel_core.errors import UsageError


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


def init(
    directory: Annotated[Optional[Path], typer.Argument(help="Folder to write flywheel.toml in.", file_okay=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing flywheel.toml.")] = False,
) -> None:
    """Write a commented flywheel.toml with working defaults."""
    from importlib.resources import files

    from flywheel_core.fsutil import atomic_write

    target = (directory or Path.cwd()) / "flywheel.toml"
    if target.exists() and not force:
        raise UsageError(f"{target} already exists (use --force to overwrite)")
    atomic_write(target, files("flywheel_core").joinpath("templates/flywheel.toml").read_text("utf-8"))
    print(f"wrote {target}")


def register(app: typer.Typer) -> None:
    app.command()(plugins)
    app.command()(init)
