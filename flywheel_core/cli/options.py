"""Option aliases shared by every command, so each is spelled and documented once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["ConfigOpt", "JsonOpt", "DryRunOpt", "OutOpt"]

ConfigOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--config", "-c", dir_okay=False,
        help="Config file (default: $FLYWHEEL_CONFIG, else the nearest flywheel.toml or pyproject.toml "
        "[tool.flywheel] up to the repository root, else the user config; `flywheel config` shows which).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would happen; write nothing.")]
OutOpt = Annotated[
    Optional[Path],
    typer.Option("--out", "-o", help="Output folder (default: out_dir from config, else ./flywheel-out).", file_okay=False),
]
